// The hub's database: PostgreSQL (node-postgres) for a fleet, or PGlite — PostgreSQL compiled to
// WebAssembly, in this process — under a data directory for one machine. One SQL dialect and one
// schema for both; everything above this file speaks SQL through `Sql`. Timestamps and 64-bit
// integers come back as text from both drivers, so no caller depends on which one ran.

import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { LockedError, PidLock } from '../base/pid-lock.js';

export interface Sql {
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<R[]>;
}

export interface Database extends Sql {
  readonly kind: 'postgres' | 'embedded';
  /** Where it is, without a password. */
  readonly description: string;
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` in a transaction holding advisory lock `key`, if no other hub process holds it;
   * undefined when one does. Background jobs run this way, once across all hub processes.
   */
  exclusive<T>(key: number, fn: (tx: Sql) => Promise<T>): Promise<T | undefined>;
  close(): Promise<void>;
}

export class DatabaseError extends Error {
  override name = 'DatabaseError';
}

const OID = { int8: 20, timestamptz: 1184, timestamp: 1114 } as const;
const asText = (v: string) => v;

/** Strips the password from a connection string, for logs and errors. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

class PostgresDatabase implements Database {
  readonly kind = 'postgres' as const;
  constructor(
    private readonly pool: pg.Pool,
    readonly description: string,
  ) {}

  async query<R>(text: string, params?: readonly unknown[]): Promise<R[]> {
    return (await this.pool.query(text, params as unknown[])).rows as R[];
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // A connection the server drops while it is checked out errors here as well as in its query;
    // the query's error is the one that counts, and an unheard 'error' event would end the process.
    const dropped = () => {};
    client.on('error', dropped);
    let broken: Error | undefined;
    try {
      await client.query('begin');
      const out = await fn({ query: async (t, p) => (await client.query(t, p as unknown[])).rows });
      await client.query('commit');
      return out;
    } catch (err) {
      await client.query('rollback').catch((e: unknown) => {
        broken = e as Error; // the connection is gone: it is not given back to the pool
      });
      throw err;
    } finally {
      client.off('error', dropped);
      client.release(broken);
    }
  }

  async exclusive<T>(key: number, fn: (tx: Sql) => Promise<T>): Promise<T | undefined> {
    return this.transaction(async (tx) => {
      const [got] = await tx.query<{ ok: boolean }>('select pg_try_advisory_xact_lock($1) as ok', [key]);
      return got?.ok ? fn(tx) : undefined;
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

class EmbeddedDatabase implements Database {
  readonly kind = 'embedded' as const;
  /** PGlite runs one query at a time; transactions queue behind each other here. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: PGlite,
    private readonly lock: PidLock,
    readonly description: string,
  ) {}

  async query<R>(text: string, params?: readonly unknown[]): Promise<R[]> {
    return this.serial(async () => (await this.db.query<R>(text, params as unknown[])).rows);
  }

  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return this.serial(() =>
      this.db.transaction(async (t) => fn({ query: async (q, p) => (await t.query(q, p as unknown[])).rows as never })),
    );
  }

  exclusive<T>(_key: number, fn: (tx: Sql) => Promise<T>): Promise<T | undefined> {
    // One process holds the data directory (its lock file), so the job is always this process's.
    return this.transaction(fn);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }

  async close(): Promise<void> {
    await this.db.close();
    await this.lock.release();
  }
}

export interface OpenOptions {
  /** postgres://… ; absent: the embedded database under dataDir. */
  url?: string;
  dataDir?: string;
  /** Connections in the pool (PostgreSQL). */
  poolSize?: number;
}

export async function openDatabase(o: OpenOptions): Promise<Database> {
  if (o.url) {
    if (!/^postgres(ql)?:\/\//.test(o.url))
      throw new DatabaseError(`--database takes a postgres:// URL, got ${redactUrl(o.url)}`);
    const pool = new pg.Pool({
      connectionString: o.url,
      max: o.poolSize ?? 10,
      connectionTimeoutMillis: 10_000,
      types: {
        getTypeParser: ((oid: number, format?: string) =>
          oid === OID.int8 || oid === OID.timestamptz || oid === OID.timestamp
            ? asText
            : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
      },
    });
    pool.on('error', () => {}); // an idle connection dropped by the server: the next query reconnects
    const description = redactUrl(o.url);
    try {
      await pool.query('select 1');
    } catch (err) {
      await pool.end().catch(() => {});
      throw new DatabaseError(`cannot reach the database ${description}: ${(err as Error).message}`);
    }
    return new PostgresDatabase(pool, description);
  }
  if (!o.dataDir) throw new DatabaseError('the hub needs --database postgres://… or --data-dir <dir>');
  const dir = resolve(o.dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const lock = await PidLock.acquire(
    join(dir, 'hub.lock'),
    (pid, since) =>
      `another rollgate hub (pid ${pid}, since ${since}) uses the embedded database in ${dir}; ` +
      'stop it first, or run several hubs on one PostgreSQL (--database postgres://…)',
  ).catch((err: unknown) => {
    throw err instanceof LockedError ? new DatabaseError(err.message) : err;
  });
  try {
    const db = await PGlite.create(join(dir, 'pgdata'), {
      parsers: { [OID.int8]: asText, [OID.timestamptz]: asText, [OID.timestamp]: asText },
    });
    return new EmbeddedDatabase(db, lock, `embedded PostgreSQL (PGlite) in ${dir}`);
  } catch (err) {
    await lock.release();
    throw new DatabaseError(`cannot open the embedded database in ${dir}: ${(err as Error).message}`);
  }
}
