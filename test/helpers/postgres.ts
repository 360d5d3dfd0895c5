// A private PostgreSQL from Debian's package, really started, for the hub's tests and benchmark:
// initdb and pg_ctl on a data directory and a Unix socket under a temp dir, no TCP port. As root
// (CI, this machine) the server runs as the `postgres` user, as initdb refuses root. Under
// CI=true a missing part fails the test; elsewhere the test skips with a loud line naming it.

import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './fixtures.js';

export interface PostgresServer {
  /** postgres://… over the private socket. */
  url: string;
  dataDir: string;
  stop(): Promise<void>;
  /** Starts it again after stop(), on the same data and socket. */
  start(): Promise<void>;
}

function binDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : undefined;
}

/** What is missing for a real PostgreSQL here; undefined when it can start. */
export function missingPostgres(): string | undefined {
  if (!binDir()) return 'PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb; Debian package postgresql)';
  if (process.getuid?.() === 0 && spawnSync('id', ['postgres']).status !== 0)
    return 'the postgres user (made by the Debian package postgresql), which runs the server when tests run as root';
  return undefined;
}

export interface StartOptions {
  /** Off makes a test server faster; the benchmark keeps PostgreSQL's default (on). */
  fsync?: boolean;
  maxConnections?: number;
}

export async function startPostgres(o: StartOptions = {}): Promise<PostgresServer> {
  const missing = missingPostgres();
  if (missing) throw new Error(`cannot start PostgreSQL: ${missing} is missing`);
  const bin = binDir()!;
  const root = tempDir('rollgate-pg-');
  const dataDir = join(root, 'data');
  const socketDir = root;
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim();
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim();
    chownSync(root, Number(id), Number(gid));
  }
  const run = (cmd: string, args: string[]) => {
    const argv = asRoot ? ['runuser', '-u', 'postgres', '--', join(bin, cmd), ...args] : [join(bin, cmd), ...args];
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0)
      throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  };
  run('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'rollgate', '--no-sync', '-E', 'UTF8']);
  const opts = [
    `-k ${socketDir}`,
    "-c listen_addresses=''",
    '-p 5432',
    `-c max_connections=${o.maxConnections ?? 50}`,
    ...(o.fsync === false ? ['-c fsync=off', '-c synchronous_commit=off'] : []),
  ].join(' ');
  const start = async () =>
    run('pg_ctl', ['-D', dataDir, '-l', join(root, 'server.log'), '-o', opts, '-w', '-t', '60', 'start']);
  await start();
  const url = `postgres://rollgate@localhost/postgres?host=${encodeURIComponent(socketDir)}`;
  return {
    url,
    dataDir,
    start,
    stop: async () => {
      try {
        run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
      } catch {
        // already gone
      }
    },
  };
}

/** A fresh database on the server, for one test. */
export async function createDatabase(server: PostgresServer, name: string): Promise<string> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: server.url });
  await c.connect();
  try {
    await c.query(`create database "${name}"`);
  } finally {
    await c.end();
  }
  return server.url.replace('/postgres?', `/${name}?`);
}
