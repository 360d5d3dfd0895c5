// The counts the hub keeps as reports change them (src/hub/count-tables.ts) equal a recount from
// scratch — the tables row for row, and every commit's counts as the hub counted them before it kept
// any (test/helpers/commit-recount.ts) — after a seeded random run of what changes them: reports with
// verdicts (some sent again, some older than what the hub has, some out of the gateway's order),
// gateways going silent through the silence job and coming back, gateways added and removed, the
// hub's database closed and opened again; reports that change a gateway's component versions and
// service images, labels the hub changes, events forgotten by retention. The facet counts (migration 7,
// src/hub/facet-counts.ts) likewise, and every list filter's count read from them equals a count over the
// gateways. And migrations 6 and 7 on a database that already holds data fill them from it. Both
// databases. ROLLGATE_COUNTS_SEED=<n> replays or varies a run.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { addGateway, removeGateway } from '../../src/hub/admin.js';
import { commitCounts } from '../../src/hub/commit-counts.js';
import { STATE_KEY, VERDICT_KEY } from '../../src/hub/count-tables.js';
import type { Database } from '../../src/hub/db.js';
import { ingest } from '../../src/hub/ingest.js';
import { forgetOld, markSilent } from '../../src/hub/jobs.js';
import { FACETS } from '../../src/hub/facet-counts.js';
import { gatewayWhere, type GatewayFilter } from '../../src/hub/gateway-filter.js';
import { countGateways } from '../../src/hub/list-counts.js';
import { outcomeOf } from '../../src/hub/outcomes.js';
import { migrate, MIGRATIONS, statementsOf } from '../../src/hub/migrations.js';
import { VERDICT_REASONS, type ReportEvent, type ReportStatus } from '../../src/model/index.js';
import { recountCommitCounts } from '../helpers/commit-recount.js';
import { hubDatabases, report, sha, status } from '../helpers/hub.js';
import { hashToken } from '../../src/hub/tokens.js';

const dbs = await hubDatabases();
after(() => dbs.stop());

const SEED = Number(process.env['ROLLGATE_COUNTS_SEED'] ?? 20261202);
const STEPS = 120;

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COMMITS = [0, 1, 2, 3, 4].map((n) => sha(`counts ${n}`));
/** Most verdicts picked are of those that record an outcome on their commit; the rest record none. */
const WITH_OUTCOME = VERDICT_REASONS.filter((v) => outcomeOf(v) !== undefined);

const VERSIONS = ['v1', 'v2', 'v3'];
const IMAGES = ['web:1', 'web:2'];

/** Filters the list's count reads from kept counts (and two it counts over the gateways), checked against a count. */
const LIST_FILTERS: GatewayFilter[] = [
  {},
  { state: 'reporting' },
  { state: 'silent' },
  { state: 'never' },
  { stale: false },
  { condition: 'Healthy' },
  { condition: 'Ready=False', state: 'reporting' },
  { commit: COMMITS[1]!.slice(0, 9) },
  { commit: COMMITS[2]!, condition: 'Healthy=Unknown', stale: true },
  ...VERSIONS.map((v): GatewayFilter => ({ component: ['rtos', v] })),
  ...IMAGES.map((i): GatewayFilter => ({ service: ['shop', 'web', i] })),
  { labels: { ring: '1' } },
  { labels: { site: 'b' } },
  { labels: { ring: '1', site: 'a' } },
  { component: ['rtos', 'v2'], state: 'reporting' },
  { search: 'gw-1' },
];

/** What a report says runs: now and then two components of one type at one version (counted once). */
function versionsOf(rnd: () => number, pick: <T>(xs: readonly T[]) => T): Partial<ReportStatus> {
  const v = pick(VERSIONS);
  return {
    components: [
      { key: 'R1', type: 'rtos', version: v },
      ...(rnd() < 0.2 ? [{ key: 'R2', type: 'rtos', version: v }] : []),
      ...(rnd() < 0.3 ? [{ key: 'M1', type: 'modem', version: pick(VERSIONS) }] : []),
    ],
    containers: rnd() < 0.8 ? [{ app: 'shop', service: 'web', image: pick(IMAGES), state: 'running' }] : [],
  };
}

/** The tables as kept, and as a recount from the gateways and verdicts makes them, in one order. */
async function tablesNowAndRecounted(db: Database): Promise<[string[], string[]]> {
  const rows = (q: string) => db.query<Record<string, unknown>>(q).then((r) => r.map((x) => JSON.stringify(x)));
  const kept = [
    ...(await rows(
      `select 'state' as t, applied_commit as a, seen as b, silent as c, ready as d, healthy as e, stalled as f,
              n::int as n from gateway_state_counts order by 2, 3, 4, 5, 6, 7`,
    )),
    ...(await rows(
      `select 'verdict' as t, commit as a, outcome as b, applied_commit as c, silent as d, healthy as e,
              n::int as n from commit_verdict_counts order by 2, 3, 4, 5, 6`,
    )),
  ];
  kept.push(
    ...(await rows(
      `select 'facet' as t, kind as a, what as b, value as c, n::int as n from gateway_facet_counts order by 2, 3, 4`,
    )),
  );
  const recounted = [
    ...(await rows(
      `select 'state' as t, x.* from (select ${STATE_KEY('g')}, count(*)::int from gateways g group by 1, 2, 3, 4, 5, 6)
              x(a, b, c, d, e, f, n) order by 2, 3, 4, 5, 6, 7`,
    )),
    ...(await rows(
      `select 'verdict' as t, x.* from (select ${VERDICT_KEY('c', 'g')}, count(*)::int
                                         from gateway_commits c join gateways g on g.id = c.gateway_id
                                        group by 1, 2, 3, 4, 5) x(a, b, c, d, e, n) order by 2, 3, 4, 5, 6`,
    )),
  ];
  recounted.push(
    ...(await rows(
      `select 'facet' as t, x.* from (select f.kind, f.what, f.value, count(*)::int
                                       from gateways g cross join lateral (${FACETS('g')}) f(kind, what, value)
                                      group by 1, 2, 3) x(a, b, c, n) order by 2, 3, 4`,
    )),
  );
  return [kept, recounted];
}

async function assertCountsRight(db: Database, when: string): Promise<void> {
  const [kept, recounted] = await tablesNowAndRecounted(db);
  assert.deepEqual(kept, recounted, `the tables, ${when}`);
  const shas = (await db.query<{ sha: string }>('select sha from commits order by sha')).map((r) => r.sha);
  for (const f of LIST_FILTERS) {
    const params: unknown[] = [];
    const [n] = await db.query<{ n: string }>(
      `select count(*) as n from gateways where ${gatewayWhere(f, params)}`,
      params,
    );
    const [all] = await db.query<{ n: string }>('select count(*) as n from gateways');
    const c = await countGateways(db, f);
    assert.deepEqual(
      { matching: c.matching, total: c.total },
      { matching: Number(n!.n), total: Number(all!.n) },
      `the list's count of ${JSON.stringify(f)} (${c.kept ? 'kept' : 'counted'}), ${when}`,
    );
  }
  assert.deepEqual(
    Object.fromEntries(await commitCounts(db, shas)),
    Object.fromEntries(await recountCommitCounts(db, shas)),
    `each commit's counts, ${when}`,
  );
}

/** A seeded run of reports, silences, gateways added and removed, and restarts. */
async function randomRun(
  open: () => Promise<Database>,
  seed: number,
): Promise<{ db: Database; steps: string[]; peak: number }> {
  const rnd = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  let db = await open();
  await migrate(db);
  const tokens = new Map<string, string>();
  const seq = new Map<string, number>();
  const sent: { gateway: string; e: ReportEvent }[] = [];
  const steps: string[] = [];
  let next = 0;
  let peak = 0;
  const add = async () => {
    const id = `gw-${next++}`;
    tokens.set(id, await addGateway(db, id, { ring: String(next % 3) }));
    return id;
  };
  for (let i = 0; i < 8; i++) await add();
  for (let step = 0; step < STEPS; step++) {
    const r = rnd();
    const ids = [...tokens.keys()];
    if (r < 0.75 && ids.length > 0) {
      const gw = pick(ids);
      const events: ReportEvent[] = [];
      for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) {
        const resend = sent.filter((s) => s.gateway === gw);
        if (resend.length > 0 && rnd() < 0.2) events.push(pick(resend).e);
        else {
          const at = new Date(Date.now() - Math.floor(rnd() * 3_600_000)).toISOString();
          const e: ReportEvent = {
            id: randomUUID(),
            at,
            verdict: pick(rnd() < 0.7 ? WITH_OUTCOME : VERDICT_REASONS),
            commit: pick(COMMITS),
          };
          events.push(e);
          sent.push({ gateway: gw, e });
        }
      }
      const applied = rnd() < 0.85 ? pick(COMMITS) : undefined;
      const st = status({
        ...versionsOf(rnd, pick),
        ...(applied ? { applied: { commit: applied, at: new Date().toISOString() }, head: pick(COMMITS) } : {}),
        ...(rnd() < 0.9 ? { healthy: pick(['True', 'False', 'Unknown']) } : {}),
        ...(rnd() < 0.9 ? { ready: pick(['True', 'False']) } : {}),
      });
      // Now and then a report from before the last one: its events count, its status does not.
      const n = (seq.get(gw) ?? 0) + (rnd() < 0.1 ? -1 : 1);
      seq.set(gw, Math.max(seq.get(gw) ?? 0, n));
      await db.transaction((tx) =>
        ingest(
          tx,
          [{ tokenHash: hashToken(tokens.get(gw)!), report: report(gw, st, events, 0, { boot: 'b', seq: n }) }],
          { webhooks: [] },
        ),
      );
      steps.push(`report ${gw} ${applied?.slice(0, 6) ?? '-'} ${events.map((e) => e.verdict).join(',')}`);
    } else if (r < 0.79 && ids.length > 0) {
      // The hub's labels change (an operator's edit; by hand here, as no command edits them yet).
      const gw = pick(ids);
      const labels = rnd() < 0.3 ? {} : { ring: String(Math.floor(rnd() * 3)), site: pick(['a', 'b']) };
      await db.query('update gateways set labels = $2::jsonb where id = $1', [gw, JSON.stringify(labels)]);
      steps.push(`label ${gw} ${JSON.stringify(labels)}`);
    } else if (r < 0.81) {
      // Retention forgets events, never a gateway or what it runs: no count moves.
      await forgetOld(db, 0);
      steps.push('forget');
    } else if (r < 0.85 && ids.length > 0) {
      const quiet = ids.filter(() => rnd() < 0.4);
      await db.query(`update gateways set last_seen = now() - interval '2 hours' where id = any($1::text[])`, [quiet]);
      const silent = await markSilent(db, 3_600_000, []);
      steps.push(`silent ${silent.join(',')}`);
    } else if (r < 0.92) {
      steps.push(`add ${await add()}`);
    } else if (r < 0.96 && ids.length > 1) {
      const gw = pick(ids);
      await removeGateway(db, gw);
      tokens.delete(gw);
      steps.push(`remove ${gw}`);
    } else {
      await db.close();
      db = await open();
      await migrate(db);
      steps.push('restart');
    }
    if (step % 10 === 9) {
      await assertCountsRight(db, `after step ${step} (seed ${seed}): ${steps.join('; ')}`);
      const [n] = await db.query<{ n: string }>('select count(*) as n from gateway_commits');
      peak = Math.max(peak, Number(n!.n));
    }
  }
  return { db, steps, peak };
}

for (const kind of dbs.kinds) {
  test(`the kept counts equal a recount after a random run of reports (${kind.name}, seed ${SEED})`, async () => {
    const fresh = await kind.fresh();
    const { db, steps, peak } = await randomRun(fresh.open, SEED);
    try {
      await assertCountsRight(db, `at the end (seed ${SEED}): ${steps.join('; ')}`);
      const kinds = new Set(steps.map((s) => s.split(' ')[0]));
      assert.deepEqual(
        [...kinds].sort(),
        ['add', 'forget', 'label', 'remove', 'report', 'restart', 'silent'],
        'every kind of change ran',
      );
      assert.ok(peak > 20, `the run gave the commits verdicts to count (at most ${peak} at once)`);
    } finally {
      await db.close();
    }
  });

  test(`migrations 6 and 7 on a database with data fill the counts from it (${kind.name})`, async () => {
    const fresh = await kind.fresh();
    // The schema as a hub before the counts left it, and data in it, written by this hub's ingest.
    let db = await fresh.open();
    await db.transaction(async (tx) => {
      await tx.query(
        `create table schema_migrations (version integer primary key, name text not null,
                                         applied_at timestamptz not null default now())`,
      );
      for (const m of MIGRATIONS.filter((x) => x.version < 6)) {
        for (const s of statementsOf(m.sql)) await tx.query(s);
        await tx.query('insert into schema_migrations (version, name) values ($1, $2)', [m.version, m.name]);
      }
    });
    const rnd = random(SEED + 1);
    for (let i = 0; i < 12; i++) {
      const id = `old-${i}`;
      const token = await addGateway(db, id, { ring: String(i % 2) });
      if (i % 4 === 3) continue; // never reported
      const c = COMMITS[i % 3]!;
      const events = [
        { id: randomUUID(), at: new Date().toISOString(), verdict: rnd() < 0.7 ? 'applied' : 'rolled-back', commit: c },
      ] as ReportEvent[];
      const st = status({
        ...versionsOf(rnd, (xs) => xs[i % xs.length]!),
        applied: { commit: COMMITS[(i + 1) % 3]!, at: new Date().toISOString() },
        healthy: 'True',
      });
      await db.transaction((tx) =>
        ingest(tx, [{ tokenHash: hashToken(token), report: report(id, st, events) }], { webhooks: [] }),
      );
    }
    await db.query(`update gateways set silent_since = now() where id in ('old-1', 'old-6')`);
    const before = await recountCommitCounts(db, COMMITS);
    await db.close();
    db = await fresh.open();
    try {
      assert.deepEqual(await migrate(db), [6, 7]);
      await assertCountsRight(db, 'after migrations 6 and 7');
      const [versions] = await db.query<{ n: string }>(
        "select count(*) as n from gateway_facet_counts where kind = 'component'",
      );
      assert.ok(Number(versions!.n) > 1, 'migration 7 counted the versions the gateways run');
      assert.deepEqual(Object.fromEntries(await commitCounts(db, COMMITS)), Object.fromEntries(before));
      const counted = before.get(COMMITS[0]!)!;
      assert.equal(counted.gateways, 12);
      assert.equal(counted.neverSeen, 3);
      assert.ok(counted.applied + counted.rolledBack === 3, 'three verdicts on the first commit');
    } finally {
      await db.close();
    }
  });
}
