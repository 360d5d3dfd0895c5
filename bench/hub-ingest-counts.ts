// What the counts kept at ingest cost a report: batches of 64 reports (as the hub's group commit
// writes them, src/hub/batcher.ts) stored by the hub's ingest into PostgreSQL (started here, fsync
// off, so the figure is the database's work and not the disk's) holding 10,000 gateways. Two kinds of
// report: a heartbeat (what the gateway runs is unchanged, the common case) and one that changes a
// component's version and a service's image (a gateway that updated). Each is timed with migration 7's
// triggers (the facet counts, src/hub/facet-counts.ts) enabled and disabled — the hub as it was before
// them — in alternate rounds of one process, so the machine's load falls on both alike. Migration 6's
// counts stay on in both. Run with `npm run bench:ingest`.

import { openDatabase, type Database } from '../src/hub/index.js';
import { ingest, type Incoming } from '../src/hub/ingest.js';
import { migrate } from '../src/hub/migrations.js';
import { hashToken, newToken } from '../src/hub/tokens.js';
import { report, status } from '../test/helpers/hub.js';
import { startPostgres } from '../test/helpers/postgres.js';

const GATEWAYS = Number(process.env['ROLLGATE_BENCH_GATEWAYS'] ?? 10_000);
const ROUNDS = Number(process.env['ROLLGATE_BENCH_ROUNDS'] ?? 9);
const BATCH = 64;
const BATCHES = 20;
const COMMIT = 'c0ffee'.padEnd(40, '1');
const TRIGGERS = ['rg_facets_gateways_insert', 'rg_facets_gateways_update', 'rg_facets_gateways_delete'];

type Kind = 'heartbeat' | 'version change';

let seq = 0;
let version = 0;

function batchOf(ids: string[], tokens: string[], kind: Kind): Incoming[] {
  // A heartbeat says what the gateway said last time; a version change, what it has never said.
  if (kind === 'version change') version++;
  const v = kind === 'heartbeat' ? 'base' : String(version);
  const at = new Date().toISOString();
  return ids.map((id, i) => ({
    tokenHash: hashToken(tokens[i]!),
    report: report(
      id,
      status({
        labels: { ring: String(i % 4) },
        applied: { commit: COMMIT, at },
        head: COMMIT,
        ready: 'True',
        healthy: 'True',
        components: [{ key: 'R1', type: 'rtos', version: `rtos-${v}` }],
        containers: [
          { app: 'shop', service: 'web', image: `shop/web:${v}`, state: 'running', commit: COMMIT },
          { app: 'shop', service: 'db', image: 'postgres:16', state: 'running', commit: COMMIT },
        ],
      }),
      [],
      0,
      { boot: 'bench', seq: ++seq },
    ),
  }));
}

/**
 * Milliseconds per report over BATCHES batches of BATCH gateways, taken in turn through the fleet's
 * first half for heartbeats and its second half for version changes (so a heartbeat never follows a change).
 */
async function round(db: Database, ids: string[], tokens: string[], kind: Kind, start: number): Promise<number> {
  const half = Math.floor(ids.length / 2);
  const t = process.hrtime.bigint();
  for (let b = 0; b < BATCHES; b++) {
    const from = ((start + b * BATCH) % (half - BATCH)) + (kind === 'heartbeat' ? 0 : half);
    const batch = batchOf(ids.slice(from, from + BATCH), tokens.slice(from, from + BATCH), kind);
    await db.transaction((tx) => ingest(tx, batch, { webhooks: [] }));
  }
  return Number(process.hrtime.bigint() - t) / 1e6 / (BATCHES * BATCH);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const pg = await startPostgres({ fsync: false });
try {
  const db = await openDatabase({ url: pg.url, poolSize: 2 });
  await migrate(db);
  const ids = Array.from({ length: GATEWAYS }, (_, i) => `gw-${String(i).padStart(5, '0')}`);
  const tokens = ids.map(() => newToken('gateway'));
  await db.query(
    `insert into gateways (id, labels, token_hash)
     select i, '{}'::jsonb, h from unnest($1::text[], $2::text[]) x(i, h)`,
    [ids, tokens.map(hashToken)],
  );
  // Every gateway reports once, so the rounds below are what a running fleet sends.
  for (let i = 0; i + BATCH <= ids.length; i += BATCH)
    await db.transaction((tx) =>
      ingest(tx, batchOf(ids.slice(i, i + BATCH), tokens.slice(i, i + BATCH), 'heartbeat'), { webhooks: [] }),
    );
  await db.query('analyze');
  const times = new Map<string, number[]>();
  let start = 0;
  for (let r = 0; r < ROUNDS + 1; r++)
    for (const on of r % 2 ? [true, false] : [false, true]) {
      for (const t of TRIGGERS) await db.query(`alter table gateways ${on ? 'enable' : 'disable'} trigger ${t}`);
      for (const kind of ['heartbeat', 'version change'] as const) {
        const ms = await round(db, ids, tokens, kind, (start += BATCH * BATCHES));
        const key = `${kind}|${on}`;
        if (r > 0) times.set(key, [...(times.get(key) ?? []), ms]); // the first round warms up
      }
    }
  process.stdout.write(
    `| report (${GATEWAYS} gateways, batches of ${BATCH}) | before (no facet counts), ms ` +
      '| with facet counts, ms | ratio |\n',
  );
  process.stdout.write('|---|---:|---:|---:|\n');
  for (const kind of ['heartbeat', 'version change']) {
    const off = median(times.get(`${kind}|false`)!);
    const on = median(times.get(`${kind}|true`)!);
    process.stdout.write(`| ${kind} | ${off.toFixed(3)} | ${on.toFixed(3)} | ${(on / off).toFixed(2)}× |\n`);
  }
  await db.close();
} finally {
  await pg.stop();
}
