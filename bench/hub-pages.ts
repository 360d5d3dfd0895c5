// The board's pages at fleet size: PostgreSQL (started here, as bench/hub-load.ts does) holding
// 10,000 gateways, each with a report (labels, an RTOS component, two containers), and a history of
// COMMITS commits every gateway gave a verdict on (one in twenty rolled back). Timed, in one process
// and by the same code the hub serves them with: the overview (summary, the first gateways, the
// failures grouped), a page of the gateway list (filtered, sorted, counted), the versions, one
// commit, and the overview's commit counts the way the hub did them before (one join over every
// gateway per recent commit, and a scan of the history after it), for the ratio; last, a rollout's page
// over the same gateways (./hub-rollout-page.ts). Run with `npm run bench:pages`.

import { failureGroups, fleetVersions, gatewayListPage } from '../src/hub/board-queries.js';
import { commitCounts } from '../src/hub/commit-counts.js';
import { gatewayWhere, type GatewayFilter } from '../src/hub/gateway-filter.js';
import { countGateways } from '../src/hub/list-counts.js';
import { openDatabase, type Database } from '../src/hub/index.js';
import { migrate } from '../src/hub/migrations.js';
import { renderCommitsPage, renderFleetPage, renderGatewayList } from '../src/hub/page.js';
import { renderVersionsPage } from '../src/hub/page-fleet.js';
import { fleetOverview, fleetSummary } from '../src/hub/fleet-summary.js';
import { commitSummary, recentCommitLines, recentCommits } from '../src/hub/queries.js';
import { recountCommitCounts } from '../test/helpers/commit-recount.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { rolloutPageBench } from './hub-rollout-page.js';
import { createHash } from 'node:crypto';

const GATEWAYS = Number(process.env['ROLLGATE_BENCH_GATEWAYS'] ?? 10_000);
const COMMITS = Number(process.env['ROLLGATE_BENCH_COMMITS'] ?? 40);
const ROUNDS = Number(process.env['ROLLGATE_BENCH_ROUNDS'] ?? 15);
const sha = (n: number) => createHash('sha1').update(`bench ${n}`).digest('hex');

async function fill(db: Database): Promise<void> {
  await migrate(db);
  const ids = Array.from({ length: GATEWAYS }, (_, i) => `gw-${String(i).padStart(5, '0')}`);
  const t0 = Date.now() - COMMITS * 3600_000;
  await db.query(
    `insert into commits (sha, first_seen)
     select s, to_timestamp(t / 1000.0) from unnest($1::text[], $2::float8[]) as x(s, t)`,
    [Array.from({ length: COMMITS }, (_, c) => sha(c)), Array.from({ length: COMMITS }, (_, c) => t0 + c * 3600_000)],
  );
  const last = sha(COMMITS - 1);
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    const status = chunk.map((_, j) =>
      JSON.stringify({
        labels: {},
        conditions: [],
        bad: [],
        version: '0.1.0',
        components: [{ key: 'R1', type: 'rtos', version: `rtos-v${(i + j) % 3}` }],
        containers: [
          { app: 'shop', service: 'web', image: `shop/web:${(i + j) % 4}`, state: 'running', commit: last },
          { app: 'shop', service: 'db', image: 'postgres:16', state: 'running', commit: last },
        ],
      }),
    );
    await db.query(
      `insert into gateways (id, labels, last_seen, first_seen, applied_commit, head_commit, ready, healthy, stalled,
                             status, silent_since)
       select i, jsonb_build_object('ring', (n % 4)::text), now(), now(), $3, $3, 'True', 'True', 'False', s::jsonb,
              case when n % 50 = 0 then now() end
         from unnest($1::text[], $2::text[]) with ordinality as x(i, s, n)`,
      [chunk, status, last],
    );
  }
  // Every gateway's verdict on every commit: the history the old overview scanned.
  for (let c = 0; c < COMMITS; c++)
    await db.query(
      `insert into gateway_commits (commit, gateway_id, outcome, verdict, reason, detail, at, received_at)
       select $1, id, case when random() < 0.05 then 'rolled-back' else 'applied' end, 'applied', null, null,
              to_timestamp($2 / 1000.0), now()
         from gateways`,
      [sha(c), t0 + c * 3600_000 + 60_000],
    );
  await db.query(
    `update gateway_commits set verdict = 'rolled-back', reason = 'health-failed', detail = 'probe web failed'
      where outcome = 'rolled-back'`,
  );
  await db.query('analyze');
}

/** The overview's commit counts as the hub did them before this change, for the ratio. */
async function oldCounts(db: Database): Promise<void> {
  const rows = await db.query<{ sha: string; first_seen: string }>(
    'select sha, first_seen from commits order by first_seen desc, sha limit 8',
  );
  for (const r of rows)
    await db.query(
      `with gc as (select gateway_id, outcome from gateway_commits where commit = $1),
            later as (select distinct gateway_id from gateway_commits where commit <> $1 and at > $2::timestamptz)
       select count(*), count(*) filter (where gc.outcome = 'applied'),
              count(*) filter (where gc.outcome is null and g.silent_since is null and
                                 (g.head_commit = $1 or l.gateway_id is null)) as pending,
              count(*) filter (where gc.outcome is null and g.silent_since is null
                                 and g.head_commit is distinct from $1 and l.gateway_id is not null) as moved_on
         from gateways g left join gc on gc.gateway_id = g.id left join later l on l.gateway_id = g.id`,
      [r.sha, r.first_seen],
    );
}

/** The list unfiltered at its first, middle and last page, and each filter's count (what "n of N" costs). */
async function listRows(db: Database): Promise<[string, number][]> {
  const per = 100;
  const last = Math.floor((GATEWAYS - 1) / per) * per;
  const page = (f: GatewayFilter, offset: number) => async () => {
    const list = await gatewayListPage(db, f, 'id', offset, per);
    renderGatewayList({ list, filters: [], sort: 'id', per });
  };
  const filters: [string, GatewayFilter][] = [
    ['state=silent', { state: 'silent' }],
    ['condition=Healthy=True', { condition: 'Healthy=True' }],
    ['commit (prefix) and state=reporting', { commit: sha(COMMITS - 1).slice(0, 10), state: 'reporting' }],
    ['component=rtos=rtos-v1', { component: ['rtos', 'rtos-v1'] }],
    ['service=shop/web=shop/web:2', { service: ['shop', 'web', 'shop/web:2'] }],
    ['label=ring=1', { labels: { ring: '1' } }],
    ['label=ring=1 and state=silent', { labels: { ring: '1' }, state: 'silent' }],
    ['component=rtos=rtos-v1 and state=reporting', { component: ['rtos', 'rtos-v1'], state: 'reporting' }],
    ['target (prefix)', { target: sha(COMMITS - 1).slice(0, 10) }],
    ['q=gw-012 (id search)', { search: 'gw-012' }],
  ];
  return [
    ['gateway list: unfiltered, first page, rendered', await time(page({}, 0))],
    ['gateway list: unfiltered, middle page, rendered', await time(page({}, Math.floor(last / 2 / per) * per))],
    ['gateway list: unfiltered, last page, rendered', await time(page({}, last))],
    ...(await sequential(
      filters.map(([name, f]) => async (): Promise<[string, number]> => [
        `gateway list filtered by ${name}: count and first page, rendered`,
        await time(page(f, 0)),
      ]),
    )),
    // The count alone, as the list reads it now (kept counts where they answer) and as a pass over the gateways.
    ...(await sequential(
      filters.map(([name, f]) => async (): Promise<[string, number]> => {
        const c = await countGateways(db, f);
        return [
          `count of ${name} alone, ${c.kept ? 'from kept counts' : 'over the gateways'}`,
          await time(() => countGateways(db, f)),
        ];
      }),
    )),
    ...(await sequential(
      filters.map(([name, f]) => async (): Promise<[string, number]> => {
        const params: unknown[] = [];
        const where = gatewayWhere(f, params);
        return [
          `count of ${name} alone, a pass over the gateways`,
          await time(() => db.query(`select count(*) from gateways where ${where}`, params)),
        ];
      }),
    )),
  ];
}

async function sequential<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = [];
  for (const j of jobs) out.push(await j());
  return out;
}

async function time(what: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 2; i++) await what();
  const ms: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = process.hrtime.bigint();
    await what();
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)]!;
}

const pg = await startPostgres({ fsync: false });
try {
  const db = await openDatabase({ url: pg.url, poolSize: 4 });
  const t = Date.now();
  await fill(db);
  process.stderr.write(`${GATEWAYS} gateways, ${COMMITS} commits filled in ${Date.now() - t} ms\n`);
  const recent = (await db.query<{ sha: string }>('select sha from commits order by first_seen desc limit 8')).map(
    (r) => r.sha,
  );
  const rows: [string, number][] = [
    [
      'overview (summary, first 25 gateways, failures grouped, rendered)',
      await time(async () => {
        const list = await gatewayListPage(db, {}, 'id', 0, 25);
        renderFleetPage(await fleetOverview(db), list.items, { failures: await failureGroups(db), listed: list.total });
      }),
    ],
    ['overview: counts of the 8 newest commits, kept (commit-counts.ts)', await time(() => commitCounts(db, recent))],
    [
      'overview: counts of the 8 newest commits, counted from the gateways and verdicts (the last change)',
      await time(() => recountCommitCounts(db, recent)),
    ],
    ['overview: counts of the 8 newest commits, before both', await time(() => oldCounts(db))],
    ['API summary (/api/v1/fleet: each commit with reasons and failures)', await time(() => fleetSummary(db))],
    [
      'gateway list: label filter, sorted by last report, page 40 of 100, rendered',
      await time(async () => {
        const list = await gatewayListPage(db, { labels: { ring: '1' } }, '-last-seen', 3900, 100);
        renderGatewayList({ list, filters: [['label', 'ring=1']], sort: '-last-seen', per: 100 });
      }),
    ],
    ['gateway list: id search, first page', await time(() => gatewayListPage(db, { search: 'gw-012' }, 'id', 0, 100))],
    ...(await listRows(db)),
    ['versions, rendered', await time(async () => renderVersionsPage(await fleetVersions(db)))],
    ['one commit (API /commits/{sha})', await time(() => commitSummary(db, recent[0]!))],
    [
      '30 newest commits (/commits), rendered',
      await time(async () => renderCommitsPage(await recentCommitLines(db, 30))),
    ],
    ['30 newest commits with reasons and failures (API /api/v1/commits)', await time(() => recentCommits(db, 30))],
  ];
  // Last: it relabels the gateways and adds the rollout's evidence, which the rows above must not see.
  const rollout = await rolloutPageBench(db);
  rows.push([
    'a rollout page: 3 of 4 waves open, half the fleet on the target (/rollouts/{id})',
    await time(rollout.render),
  ]);
  rows.push([
    "the rollout page's evidence alone (a row per gateway, its verdict on the target)",
    await time(rollout.evidence),
  ]);
  // The page shows what it was filled with: each wave's members, read back as the browser test reads them.
  const page = String(await rollout.render());
  const members = [...page.matchAll(/data-testid="wave-fleet-(\d)-members">(\d+)</g)].map((m) => `${m[1]}: ${m[2]}`);
  process.stdout.write(`rollout page: members by wave ${members.join(', ')}\n`);
  await rollout.close();
  const base = rows[0]![1];
  process.stdout.write(`| page (${GATEWAYS} gateways, ${COMMITS} commits of history) | median ms | vs overview |\n`);
  process.stdout.write('|---|---|---|\n');
  for (const [name, ms] of rows) process.stdout.write(`| ${name} | ${ms.toFixed(1)} | ${(ms / base).toFixed(2)}× |\n`);
  await db.close();
} finally {
  await pg.stop();
}
