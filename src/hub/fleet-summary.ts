// The summary the fleet's page and `GET /api/v1/fleet` open with. The numbers come from the counts
// kept as reports change them (./count-tables.ts): the gateways by state, and each commit's verdicts,
// a few rows whatever the fleet's size. The page reads only what it shows (`fleetOverview`); the API
// adds each recent commit's reasons and failures and the newest failure events (`fleetSummary`).

import type { ConditionStatus } from '../model/index.js';
import type { FleetOverview, FleetSummary } from './api-types.js';
import type { Sql } from './db.js';
import { FAILURE_VERDICTS } from './outcomes.js';
import {
  event,
  EVENT_COLUMNS,
  GATEWAY_COLUMNS,
  recentCommitLines,
  recentCommits,
  summary,
  type EventRow,
  type GatewayRow,
} from './queries.js';

/** Recent commits the summary shows. */
const SUMMARY_COMMITS = 8;

type Condition = 'Ready' | 'Healthy' | 'Stalled';

async function fleetCounts(db: Sql): Promise<Omit<FleetOverview, 'commits' | 'failures' | 'silentGateways'>> {
  const [n] = await db.query<{ gateways: string; never: string; silent: string }>(
    `select coalesce(sum(n), 0) as gateways, coalesce(sum(n) filter (where not seen), 0) as never,
            coalesce(sum(n) filter (where silent), 0) as silent from gateway_state_counts`,
  );
  const byCondition: FleetSummary['byCondition'] = {
    Ready: { True: 0, False: 0, Unknown: 0 },
    Healthy: { True: 0, False: 0, Unknown: 0 },
    Stalled: { True: 0, False: 0, Unknown: 0 },
  };
  const conds = await db.query<{ type: Condition; status: ConditionStatus; count: string }>(
    `select 'Ready' as type, ready as status, sum(n) as count from gateway_state_counts where ready <> '' group by ready
     union all
     select 'Healthy', healthy, sum(n) from gateway_state_counts where healthy <> '' group by healthy
     union all
     select 'Stalled', stalled, sum(n) from gateway_state_counts where stalled <> '' group by stalled`,
  );
  for (const c of conds)
    if (byCondition[c.type] && c.status in byCondition[c.type]) byCondition[c.type][c.status] = Number(c.count);
  return { gateways: Number(n!.gateways), neverSeen: Number(n!.never), silent: Number(n!.silent), byCondition };
}

async function silentGateways(db: Sql): Promise<FleetOverview['silentGateways']> {
  const rows = await db.query<GatewayRow>(
    `select ${GATEWAY_COLUMNS} from gateways where silent_since is not null order by last_seen limit 50`,
  );
  return rows.map(summary);
}

/** What the overview page shows: the counts, the recent commits' rows, the gateways that stopped reporting. */
export async function fleetOverview(db: Sql): Promise<FleetOverview> {
  return {
    ...(await fleetCounts(db)),
    commits: await recentCommitLines(db, SUMMARY_COMMITS),
    silentGateways: await silentGateways(db),
  };
}

export async function fleetSummary(db: Sql): Promise<FleetSummary> {
  const failures = await db.query<EventRow>(
    `select ${EVENT_COLUMNS} from events
      where verdict = any($1::text[]) order by seq desc limit 20`,
    [FAILURE_VERDICTS],
  );
  return {
    ...(await fleetCounts(db)),
    commits: await recentCommits(db, SUMMARY_COMMITS),
    silentGateways: await silentGateways(db),
    failures: failures.map(event),
  };
}
