// Storing reports: many gateways' reports in one transaction (the server gathers the reports that
// arrive together, so a busy hub commits once for many). Events are deduplicated by (gateway,
// event id), so a report sent again after a lost answer changes nothing; each gateway's newest
// verdict per commit, the commits seen, its status and the webhooks to fire are written in the
// same transaction, or none of them is.

import type { Report, ReportEvent } from '../model/index.js';
import type { Sql } from './db.js';
import { notifyKindOf, outcomeOf } from './outcomes.js';
import { notification, type WebhookTarget } from './webhook-body.js';

export interface Incoming {
  /**
   * The SHA-256 of the token the report came with. Who sent it is decided here, in the transaction
   * that stores it, so a token rotated or removed a moment ago stores nothing, on every hub process.
   */
  tokenHash: string;
  report: Report;
}

export interface Receipt {
  accepted: string[];
  duplicates: string[];
  /** Events the database would not take; the rest of the report is stored. */
  refused: { id: string; error: string }[];
  /** Nothing was stored: the token is no gateway's, or it is another gateway's (named). */
  denied?: { unknown: true } | { owner: string };
}

/** The hub's --silent-after by default. */
const DEFAULT_ORDER_LAPSE_MS = 15 * 60_000;

const conditionOf = (r: Report, type: string) => r.status.conditions.find((c) => c.type === type)?.status ?? null;

/**
 * Newest first wins: one row per key, the one with the latest `at` — no later than now, since a
 * time ahead of the hub's (a gateway's clock before NTP set it right, a forged report) would
 * otherwise outlast every verdict that comes after it.
 */
function newestBy<T>(rows: T[], key: (r: T) => string, at: (r: T) => string): T[] {
  const out = new Map<string, T>();
  const now = Date.now();
  const when = (r: T) => Math.min(Date.parse(at(r)), now);
  for (const r of rows) {
    const k = key(r);
    const have = out.get(k);
    if (!have || when(have) <= when(r)) out.set(k, r);
  }
  return [...out.values()];
}

/** Errors of a value the database cannot hold (SQLSTATE classes 22 and 54), not of the database itself. */
export function cannotStore(err: unknown): boolean {
  return /^(22|54)/.test(String((err as { code?: unknown }).code));
}

interface GatewayLock {
  id: string;
  token_hash: string | null;
  report_boot: string | null;
  report_seq: string | null;
  /** No report has set the status for the lapse (or the token was rotated since). */
  order_lapsed: boolean;
}

type Event = { gateway: string; e: ReportEvent };

const INSERT_EVENTS = `insert into events (gateway_id, event_id, kind, verdict, commit, reason, detail, at, body,
                    rollout_id, rollout_target)
  select g, i, 'verdict', v, c, r, d, a, b::jsonb, ri, rt
    from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
                $8::text[], $9::text[], $10::text[]) as x(g, i, v, c, r, d, a, b, ri, rt)
  on conflict (gateway_id, event_id) do nothing
  returning gateway_id, event_id`;

const eventColumns = (ev: Event[]) => [
  ev.map((x) => x.gateway),
  ev.map((x) => x.e.id),
  ev.map((x) => x.e.verdict),
  ev.map((x) => x.e.commit ?? null),
  ev.map((x) => x.e.reason ?? null),
  ev.map((x) => x.e.detail ?? null),
  ev.map((x) => x.e.at),
  ev.map((x) => JSON.stringify(x.e)),
  ev.map((x) => x.e.rollout?.id ?? null),
  ev.map((x) => x.e.rollout?.target ?? null),
];

/**
 * Stores the events, deduplicated, in one statement. The edge refuses what it knows the database
 * cannot hold; should the database still refuse one, the whole batch fails, and the batcher writes
 * each report again alone with `oneByOne`: each event behind a savepoint, so that event is refused
 * by itself and every other one is stored (a slow path, for what should not happen).
 */
async function storeEvents(
  tx: Sql,
  ev: Event[],
  oneByOne: boolean,
): Promise<{ stored: Set<string>; refused: Map<string, string> }> {
  const stored = new Set<string>();
  const refused = new Map<string, string>();
  const keep = (rows: { gateway_id: string; event_id: string }[]) => {
    for (const r of rows) stored.add(`${r.gateway_id}\n${r.event_id}`);
  };
  if (ev.length === 0) return { stored, refused };
  if (!oneByOne) {
    keep(await tx.query(INSERT_EVENTS, eventColumns(ev)));
    return { stored, refused };
  }
  for (const x of ev) {
    await tx.query('savepoint event');
    try {
      keep(await tx.query(INSERT_EVENTS, eventColumns([x])));
      await tx.query('release savepoint event');
    } catch (err) {
      if (!cannotStore(err)) throw err;
      await tx.query('rollback to savepoint event');
      refused.set(`${x.gateway}\n${x.e.id}`, `the hub cannot store it: ${(err as Error).message}`);
    }
  }
  return { stored, refused };
}

export interface IngestOptions {
  webhooks: readonly WebhookTarget[];
  /**
   * How long the order of a gateway's reports holds while none of them sets its status (the hub's
   * --silent-after; 15 minutes by default). The gateway keeps reporting, so it reports in another
   * order: its state directory brought back from a backup, an agent from before the numbering, or
   * the order was taken by whoever held its token. Then the reports that arrive set it again.
   */
  orderLapseMs?: number;
  /** Each event behind its own savepoint: the batcher's second try of one report, after a batch failed. */
  oneByOne?: boolean;
}

export async function ingest(tx: Sql, all: Incoming[], o: IngestOptions): Promise<Receipt[]> {
  const webhooks = o.webhooks;
  // ---- who sent what: each report's token against its gateway's, with the gateways' rows locked
  // in id order (hubs writing batches at once lock the same rows in the same order, so never deadlock)
  const locked = await tx.query<GatewayLock>(
    `select id, token_hash, report_boot, report_seq,
            (report_taken_at is null or report_taken_at < now() - $3::double precision * interval '1 millisecond')
              as order_lapsed
       from gateways
      where id = any($1::text[]) or token_hash = any($2::text[]) order by id for update`,
    [
      [...new Set(all.map((b) => b.report.gateway))],
      [...new Set(all.map((b) => b.tokenHash))],
      o.orderLapseMs ?? DEFAULT_ORDER_LAPSE_MS,
    ],
  );
  const byId = new Map(locked.map((r) => [r.id, r]));
  const byToken = new Map(locked.filter((r) => r.token_hash).map((r) => [r.token_hash!, r.id]));
  const denied = all.map((b): Receipt['denied'] => {
    if (byId.get(b.report.gateway)?.token_hash === b.tokenHash) return undefined;
    const owner = byToken.get(b.tokenHash);
    return owner ? { owner } : { unknown: true };
  });
  const batch = all.filter((_, i) => !denied[i]);
  // ---- events, deduplicated
  const ev: Event[] = [];
  for (const b of batch) for (const e of b.report.events) ev.push({ gateway: b.report.gateway, e });
  const { stored, refused } = await storeEvents(tx, ev, o.oneByOne ?? false);
  const fresh = ev.filter((x) => stored.has(`${x.gateway}\n${x.e.id}`));

  // ---- each gateway's newest verdict per commit, and the commits the fleet has seen
  const key = (x: { gateway: string; e: ReportEvent }) => `${x.e.commit}\n${x.gateway}`;
  const outcomes = newestBy(
    fresh.filter((x) => x.e.commit && outcomeOf(x.e.verdict)),
    key,
    (x) => x.e.at,
  ).sort((a, b) => (key(a) < key(b) ? -1 : 1));
  if (outcomes.length > 0)
    await tx.query(
      `insert into gateway_commits (commit, gateway_id, outcome, verdict, reason, detail, at, received_at)
       select c, g, o, v, r, d, least(a, now()), now()
         from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
           as x(c, g, o, v, r, d, a)
       on conflict (commit, gateway_id) do update
         set outcome = excluded.outcome, verdict = excluded.verdict, reason = excluded.reason,
             detail = excluded.detail, at = excluded.at, received_at = excluded.received_at
         where gateway_commits.at <= excluded.at`,
      [
        outcomes.map((x) => x.e.commit!),
        outcomes.map((x) => x.gateway),
        outcomes.map((x) => outcomeOf(x.e.verdict)!),
        outcomes.map((x) => x.e.verdict),
        outcomes.map((x) => x.e.reason ?? null),
        outcomes.map((x) => x.e.detail ?? null),
        outcomes.map((x) => x.e.at),
      ],
    );
  const seen: { sha: string; at: string }[] = [];
  for (const x of fresh) if (x.e.commit) seen.push({ sha: x.e.commit, at: x.e.at });
  for (const b of batch) {
    const s = b.report.status;
    if (s.head) seen.push({ sha: s.head, at: b.report.sentAt });
    if (s.applied) seen.push({ sha: s.applied.commit, at: s.applied.at });
  }
  const firsts = new Map<string, string>();
  for (const s of seen) {
    const have = firsts.get(s.sha);
    if (!have || Date.parse(s.at) < Date.parse(have)) firsts.set(s.sha, s.at);
  }
  if (firsts.size > 0)
    await tx.query(
      `insert into commits (sha, first_seen)
       select s, least(a, now()) from unnest($1::text[], $2::timestamptz[]) as x(s, a)
       on conflict (sha) do update set first_seen = least(commits.first_seen, excluded.first_seen)
         where excluded.first_seen < commits.first_seen`,
      [[...firsts.keys()].sort(), [...firsts.keys()].sort().map((k) => firsts.get(k)!)],
    );

  // ---- each gateway's status: that of the newest report in its own order (./report-schema.ts, the
  // sequence). A numbering the hub has never seen is a state directory started anew: newer than
  // the ones it has seen, whatever its numbers. An older report stores its events, not its status.
  // Only a numbering other than the gateway's current one is looked up (most reports are of it).
  // No order holds for good: one that set no status for the lapse, or whose token was rotated since
  // (whoever held the old one may have taken the order), gives way to the first report that comes.
  const boots = [
    ...new Set(
      batch
        .filter((b) => b.report.sequence && b.report.sequence.boot !== byId.get(b.report.gateway)!.report_boot)
        .map((b) => `${b.report.gateway}\n${b.report.sequence!.boot}`),
    ),
  ].sort();
  const newBoots = new Set<string>();
  if (boots.length > 0)
    for (const r of await tx.query<{ gateway_id: string; boot: string }>(
      `insert into gateway_boots (gateway_id, boot) select * from unnest($1::text[], $2::text[])
       on conflict do nothing returning gateway_id, boot`,
      [boots.map((k) => k.split('\n')[0]), boots.map((k) => k.split('\n')[1])],
    ))
      newBoots.add(`${r.gateway_id}\n${r.boot}`);
  const order = new Map<string, { boot: string | null; seq: number; lapsed: boolean }>();
  for (const r of locked)
    order.set(r.id, {
      boot: r.report_boot,
      seq: r.report_seq === null ? 0 : Number(r.report_seq),
      lapsed: r.order_lapsed,
    });
  const newest = new Map<string, Incoming>();
  const lost = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const b of batch) {
    const g = b.report.gateway;
    const at = order.get(g)!;
    counts.set(g, (counts.get(g) ?? 0) + 1);
    if (!b.report.sequence) {
      // An agent from before the numbering: arrival order, until the gateway sends numbered reports.
      if (at.boot !== null && !at.lapsed) continue;
      order.set(g, { boot: null, seq: 0, lapsed: false });
    } else {
      const { boot, seq } = b.report.sequence;
      const isNew = newBoots.delete(`${g}\n${boot}`);
      if ((boot === at.boot ? seq <= at.seq : !isNew) && !at.lapsed) continue;
      order.set(g, { boot, seq, lapsed: false });
    }
    newest.set(g, b);
    // Lost counts come with new reports only: a report sent again, or replayed, is not counted twice.
    lost.set(g, (lost.get(g) ?? 0) + b.report.lost);
  }
  const ids = [...counts.keys()].sort();
  if (ids.length === 0)
    return all.map((_, i) => ({
      accepted: [],
      duplicates: [],
      refused: [],
      ...(denied[i] ? { denied: denied[i] } : {}),
    }));
  const win = (id: string) => newest.get(id)?.report;
  const back = await tx.query<{ id: string; was_silent: string | null }>(
    `with old as (select id, silent_since from gateways where id = any($1::text[]))
     update gateways g set
       status = case when r.win then r.status::jsonb else g.status end,
       applied_commit = case when r.win then r.applied else g.applied_commit end,
       last_good_commit = case when r.win then r.last_good else g.last_good_commit end,
       head_commit = case when r.win then r.head else g.head_commit end,
       attempted_commit = case when r.win then r.attempted else g.attempted_commit end,
       attempted_reason = case when r.win then r.attempted_reason else g.attempted_reason end,
       ready = case when r.win then r.ready else g.ready end,
       healthy = case when r.win then r.healthy else g.healthy end,
       stalled = case when r.win then r.stalled else g.stalled end,
       report_boot = case when r.win then r.boot else g.report_boot end,
       report_seq = case when r.win then r.seq else g.report_seq end,
       report_taken_at = case when r.win then now() else g.report_taken_at end,
       rollout_id = case when r.win then r.rollout_id else g.rollout_id end,
       rollout_target = case when r.win then r.rollout_target else g.rollout_target end,
       -- Since when the hub has heard, report after report, this gateway run its commit healthy (the hub's
       -- clock): a rollout's soak counts from here. A report that breaks the run starts it again.
       healthy_since = case when not r.win then g.healthy_since
                            when r.healthy is distinct from 'True' or r.applied is null then null
                            when g.healthy = 'True' and g.applied_commit = r.applied
                              then coalesce(g.healthy_since, now())
                            else now() end,
       last_seen = now(), first_seen = coalesce(g.first_seen, now()),
       reports = g.reports + r.n, lost_events = g.lost_events + r.lost, silent_since = null
     from unnest($1::text[], $2::boolean[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                 $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::bigint[], $15::bigint[],
                 $16::text[], $17::text[])
            as r(id, win, status, applied, last_good, head, attempted, attempted_reason, ready, healthy, stalled,
                 boot, seq, n, lost, rollout_id, rollout_target),
          old
     where g.id = r.id and old.id = g.id
     returning g.id, old.silent_since as was_silent`,
    [
      ids,
      ids.map((id) => newest.has(id)),
      ids.map((id) => {
        const r = win(id);
        return r ? JSON.stringify({ ...r.status, sentAt: r.sentAt }) : null;
      }),
      ids.map((id) => win(id)?.status.applied?.commit ?? null),
      ids.map((id) => win(id)?.status.lastGood?.commit ?? null),
      ids.map((id) => win(id)?.status.head ?? null),
      ids.map((id) => win(id)?.status.lastAttempted?.commit ?? null),
      ids.map((id) => win(id)?.status.lastAttempted?.reason ?? null),
      ids.map((id) => (win(id) ? conditionOf(win(id)!, 'Ready') : null)),
      ids.map((id) => (win(id) ? conditionOf(win(id)!, 'Healthy') : null)),
      ids.map((id) => (win(id) ? conditionOf(win(id)!, 'Stalled') : null)),
      ids.map((id) => win(id)?.sequence?.boot ?? null),
      ids.map((id) => win(id)?.sequence?.seq ?? null),
      ids.map((id) => counts.get(id)!),
      ids.map((id) => lost.get(id) ?? 0),
      ids.map((id) => win(id)?.status.rollout?.id ?? null),
      ids.map((id) => win(id)?.status.rollout?.target ?? null),
    ],
  );
  const returning = back.filter((r) => r.was_silent !== null);
  if (returning.length > 0)
    await tx.query(
      `insert into events (gateway_id, event_id, kind, at, detail, body)
       select g, 'back-' || to_char(now(), 'YYYYMMDDHH24MISSMS'), 'back', now(), d, '{}'::jsonb
         from unnest($1::text[], $2::text[]) as x(g, d)
       on conflict do nothing`,
      [returning.map((r) => r.id), returning.map((r) => `reporting again; silent since ${r.was_silent}`)],
    );

  // ---- webhooks, in the same transaction: a delivery exists exactly when its event does
  const deliveries: { url: string; kind: string; body: string }[] = [];
  for (const x of fresh) {
    const kind = notifyKindOf(x.e.verdict);
    if (!kind) continue;
    for (const w of webhooks)
      if (w.events.includes(kind))
        deliveries.push({ url: w.url, kind, body: JSON.stringify(notification(kind, x.gateway, x.e)) });
  }
  await enqueueDeliveries(tx, deliveries);

  return all.map((b, i) => {
    if (denied[i]) return { accepted: [], duplicates: [], refused: [], denied: denied[i] };
    const accepted: string[] = [];
    const duplicates: string[] = [];
    const no: Receipt['refused'] = [];
    for (const e of b.report.events) {
      const k = `${b.report.gateway}\n${e.id}`;
      const why = refused.get(k);
      if (why) no.push({ id: e.id, error: why });
      else (stored.has(k) ? accepted : duplicates).push(e.id);
    }
    return { accepted, duplicates, refused: no };
  });
}

export async function enqueueDeliveries(
  tx: Sql,
  deliveries: readonly { url: string; kind: string; body: string }[],
): Promise<void> {
  if (deliveries.length === 0) return;
  await tx.query(
    `insert into webhook_deliveries (url, kind, body)
     select u, k, b::jsonb from unnest($1::text[], $2::text[], $3::text[]) as x(u, k, b)`,
    [deliveries.map((d) => d.url), deliveries.map((d) => d.kind), deliveries.map((d) => d.body)],
  );
}
