// The hub under load: one `rollgate hub` process on this machine, fed over loopback by a bounded
// load generator that simulates 10,000 gateways (a status heartbeat each time, and a verdict event
// in one report of ten). The hub on PostgreSQL (Debian's, started here with its default fsync) is
// measured against its peer in the same run: the same hub on the embedded database (PGlite). For
// each: reports per second sustained, p50 and p99 latency, the hub's peak resident memory, and the
// database bytes each stored event and each gateway take. Run with `npm run bench:hub`.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openDatabase, type Database } from '../src/hub/index.js';
import { migrate } from '../src/hub/migrations.js';
import { hashToken, newToken } from '../src/hub/tokens.js';
import { CLI } from '../test/helpers/cli.js';
import { tempDir } from '../test/helpers/fixtures.js';
import { freePort } from '../test/helpers/hub-lab.js';
import { startPostgres } from '../test/helpers/postgres.js';

const GATEWAYS = Number(process.env['ROLLGATE_BENCH_GATEWAYS'] ?? 10_000);
const SECONDS = Number(process.env['ROLLGATE_BENCH_SECONDS'] ?? 30);
const MAX_REPORTS = Number(process.env['ROLLGATE_BENCH_MAX_REPORTS'] ?? 200_000);
const CONCURRENCY = Number(process.env['ROLLGATE_BENCH_CONCURRENCY'] ?? 64);
const EVENT_EVERY = 10;

interface Result {
  name: string;
  reports: number;
  events: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
  hubRssMb: number;
  bytesPerEvent: number;
  bytesPerGateway: number;
  /** Growth of the whole database per simulated gateway-day (288 reports, a verdict in one of ten). */
  bytesPerGatewayDay: number;
}

const dbSize = async (db: Database) =>
  Number((await db.query<{ n: string }>('select pg_database_size(current_database()) as n'))[0]!.n);
const perDay = (growth: number, reports: number) => growth / (reports / 288);

/** 10,000 gateways and their tokens, written in one statement each way. */
async function register(db: Database): Promise<string[]> {
  await migrate(db);
  const ids = Array.from({ length: GATEWAYS }, (_, i) => `gw-${String(i).padStart(5, '0')}`);
  const tokens = ids.map(() => newToken('gateway'));
  for (let i = 0; i < ids.length; i += 2000)
    await db.query(
      `insert into gateways (id, labels, token_hash)
       select i, jsonb_build_object('ring', r), h from unnest($1::text[], $2::text[], $3::text[]) as x(i, r, h)`,
      [
        ids.slice(i, i + 2000),
        ids.slice(i, i + 2000).map((_, j) => String((i + j) % 4)),
        tokens.slice(i, i + 2000).map(hashToken),
      ],
    );
  return tokens;
}

/** What an agent sends: a status of about 1 KB (two containers, one component), sometimes a verdict. */
function body(gateway: number, withEvent: boolean, seq: number): string {
  const now = new Date().toISOString();
  const commit = 'c0ffee' + String(gateway % 7).repeat(34);
  return JSON.stringify({
    schema: 'rollgate.report/v1',
    gateway: `gw-${String(gateway).padStart(5, '0')}`,
    sentAt: now,
    sequence: { boot: 'bench', seq },
    lost: 0,
    status: {
      labels: { ring: String(gateway % 4), site: `site-${gateway % 50}` },
      applied: { commit, at: now },
      lastGood: { commit, at: now },
      head: commit,
      conditions: [
        { type: 'Ready', status: 'True', reason: 'applied', since: now, commit },
        { type: 'Healthy', status: 'True', reason: 'applied', since: now, commit },
        { type: 'Stalled', status: 'False', reason: 'applied', since: now },
        { type: 'Reconciling', status: 'False', reason: 'idle', since: now },
      ],
      bad: [],
      components: [{ key: 'modem', type: 'modem-fw', version: 'modem-2.4.1' }],
      containers: [
        {
          app: 'edge',
          service: 'collector',
          image: 'registry.example.com/collector@sha256:' + 'a'.repeat(64),
          state: 'running',
          health: 'healthy',
          commit,
        },
        { app: 'edge', service: 'mqtt', image: 'registry.example.com/mqtt:2.0', state: 'running', commit },
      ],
      version: '0.1.0',
      rssBytes: 48_000_000,
      startedAt: now,
    },
    events: withEvent ? [{ id: randomUUID(), at: now, verdict: 'applied', commit, detail: 'applied and healthy' }] : [],
  });
}

function post(port: number, agent: Agent, token: string, data: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/v1/reports',
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(data),
          authorization: `Bearer ${token}`,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

function rssMb(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
  } catch {
    return 0;
  }
}

async function startHub(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'hub', '--listen', `127.0.0.1:${port}`, '--log-level', 'warn', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const end = Date.now() + 60_000;
  while (!/listening on/.test(err)) {
    if (child.exitCode !== null || Date.now() > end) throw new Error(`the hub did not start: ${err}`);
    await sleep(50);
  }
  return { child, port };
}

async function load(
  name: string,
  port: number,
  pid: number,
  tokens: string[],
): Promise<Omit<Result, 'bytesPerEvent' | 'bytesPerGateway' | 'bytesPerGatewayDay'>> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const latencies: number[] = [];
  let sent = 0;
  let events = 0;
  let errors = 0;
  // A warm-up, not counted: the hub's first requests compile and fill its caches.
  for (let i = 0; i < 200; i++) await post(port, agent, tokens[i]!, body(i, false, i + 1));
  const started = process.hrtime.bigint();
  const until = Date.now() + SECONDS * 1000;
  let hubRss = 0;
  const sampler = setInterval(() => (hubRss = Math.max(hubRss, rssMb(pid))), 250);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < until && sent < MAX_REPORTS) {
        const n = sent++;
        const g = (n * 7919) % GATEWAYS;
        const withEvent = n % EVENT_EVERY === 0;
        const data = body(g, withEvent, 1000 + n);
        const t0 = process.hrtime.bigint();
        const status = await post(port, agent, tokens[g]!, data).catch(() => 0);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (status !== 200) errors++;
        else if (withEvent) events++;
      }
    }),
  );
  clearInterval(sampler);
  hubRss = Math.max(hubRss, rssMb(pid));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
  return {
    name,
    reports: latencies.length,
    events,
    seconds,
    perSecond: latencies.length / seconds,
    p50: q(0.5),
    p99: q(0.99),
    errors,
    hubRssMb: hubRss,
  };
}

async function sizes(db: Database): Promise<{ bytesPerEvent: number; bytesPerGateway: number }> {
  const [r] = await db.query<{ ev: string; evn: string; gw: string; gwn: string }>(
    `select pg_total_relation_size('events') as ev, (select count(*) from events) as evn,
            pg_total_relation_size('gateways') + pg_total_relation_size('gateway_commits') as gw,
            (select count(*) from gateways) as gwn`,
  );
  return {
    bytesPerEvent: Number(r!.ev) / Math.max(1, Number(r!.evn)),
    bytesPerGateway: Number(r!.gw) / Number(r!.gwn),
  };
}

async function main(): Promise<void> {
  const results: Result[] = [];
  process.stderr.write(
    `${GATEWAYS} gateways, ${CONCURRENCY} concurrent requests, ${SECONDS} s per run (at most ${MAX_REPORTS} reports)\n`,
  );

  // ---- PostgreSQL
  const pg = await startPostgres({ maxConnections: 100 });
  try {
    const setup = await openDatabase({ url: pg.url });
    const tokens = await register(setup);
    await setup.query('vacuum analyze');
    const before = await dbSize(setup);
    const { child, port } = await startHub(['--database', pg.url]);
    const r = await load('PostgreSQL 15', port, child.pid!, tokens);
    child.kill('SIGTERM');
    await new Promise((res) => child.once('exit', res));
    await setup.query('vacuum analyze');
    const grew = (await dbSize(setup)) - before;
    results.push({ ...r, ...(await sizes(setup)), bytesPerGatewayDay: perDay(grew, r.reports) });
    await setup.close();
  } finally {
    await pg.stop();
  }

  // ---- the embedded database, same load
  const dataDir = join(tempDir('rollgate-bench-hub-'), 'data');
  {
    const setup = await openDatabase({ dataDir });
    const tokens = await register(setup);
    await setup.query('vacuum analyze');
    const before = await dbSize(setup);
    await setup.close();
    const { child, port } = await startHub(['--data-dir', dataDir]);
    const r = await load('embedded (PGlite)', port, child.pid!, tokens);
    child.kill('SIGTERM');
    await new Promise((res) => child.once('exit', res));
    const after = await openDatabase({ dataDir });
    await after.query('vacuum analyze');
    const grew = (await dbSize(after)) - before;
    results.push({ ...r, ...(await sizes(after)), bytesPerGatewayDay: perDay(grew, r.reports) });
    await after.close();
  }

  const base = results[0]!.perSecond;
  const rows = results.map((r) => {
    const cells = [r.name, r.reports, r.perSecond.toFixed(0), `${(r.perSecond / base).toFixed(2)}×`, r.p50.toFixed(1)];
    cells.push(r.p99.toFixed(1), r.errors, r.hubRssMb.toFixed(0), r.bytesPerEvent.toFixed(0));
    cells.push(r.bytesPerGateway.toFixed(0), (r.bytesPerGatewayDay / 1024).toFixed(0));
    return `| ${cells.join(' | ')} |`;
  });
  console.log(
    [
      `Node ${process.version}, ${GATEWAYS} gateways, ${CONCURRENCY} concurrent requests, ${SECONDS} s each, ` +
        `one verdict event in every ${EVENT_EVERY} reports`,
      '',
      '| hub database | reports | reports/s | ratio | p50 ms | p99 ms | errors | hub peak RSS MB | bytes/event | ' +
        'bytes/gateway | DB growth KiB per gateway-day |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...rows,
    ].join('\n'),
  );
  console.log(JSON.stringify(results));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
