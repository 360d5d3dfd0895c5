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
  gateway: string;
  report: Report;
}

export interface Receipt {
  accepted: string[];
  duplicates: string[];
  /** The gateway was removed while its report was on the way; nothing of it was stored. */
  unknown?: boolean;
}

const conditionOf = (r: Report, type: string) => r.status.conditions.find((c) => c.type === type)?.status ?? null;

/** Newest first wins: one row per key, the one with the latest `at`. */
function newestBy<T>(rows: T[], key: (r: T) => string, at: (r: T) => string): T[] {
  const out = new Map<string, T>();
  for (const r of rows) {
    const k = key(r);
    const have = out.get(k);
    if (!have || Date.parse(at(have)) <= Date.parse(at(r))) out.set(k, r);
  }
  return [...out.values()];
}

export async function ingest(tx: Sql, all: Incoming[], webhooks: readonly WebhookTarget[]): Promise<Receipt[]> {
  const ids = [...new Set(all.map((b) => b.gateway))];
  const known = new Set(
    (await tx.query<{ id: string }>('select id from gateways where id = any($1::text[])', [ids])).map((r) => r.id),
  );
  const batch = all.filter((b) => known.has(b.gateway));
  // ---- events, deduplicated
  const ev: { gateway: string; e: ReportEvent }[] = [];
  for (const b of batch) for (const e of b.report.events) ev.push({ gateway: b.gateway, e });
  const stored = new Set<string>();
  if (ev.length > 0) {
    const rows = await tx.query<{ gateway_id: string; event_id: string }>(
      `insert into events (gateway_id, event_id, kind, verdict, commit, reason, detail, at, body)
       select g, i, 'verdict', v, c, r, d, a, b::jsonb
         from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
                     $8::text[]) as x(g, i, v, c, r, d, a, b)
       on conflict (gateway_id, event_id) do nothing
       returning gateway_id, event_id`,
      [
        ev.map((x) => x.gateway),
        ev.map((x) => x.e.id),
        ev.map((x) => x.e.verdict),
        ev.map((x) => x.e.commit ?? null),
        ev.map((x) => x.e.reason ?? null),
        ev.map((x) => x.e.detail ?? null),
        ev.map((x) => x.e.at),
        ev.map((x) => JSON.stringify(x.e)),
      ],
    );
    for (const r of rows) stored.add(`${r.gateway_id}\n${r.event_id}`);
  }
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
      `insert into gateway_commits (commit, gateway_id, outcome, verdict, reason, detail, at)
       select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
       on conflict (commit, gateway_id) do update
         set outcome = excluded.outcome, verdict = excluded.verdict, reason = excluded.reason,
             detail = excluded.detail, at = excluded.at
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

  // ---- each gateway's status: the newest report of the batch, lost events summed
  const lost = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const b of batch) {
    lost.set(b.gateway, (lost.get(b.gateway) ?? 0) + b.report.lost);
    counts.set(b.gateway, (counts.get(b.gateway) ?? 0) + 1);
  }
  // In id order: hubs writing batches at once lock the same rows in the same order, so never deadlock.
  const latest = newestBy(
    batch,
    (b) => b.gateway,
    (b) => b.report.sentAt,
  ).sort((a, b) => (a.gateway < b.gateway ? -1 : a.gateway > b.gateway ? 1 : 0));
  if (latest.length === 0) return all.map(() => ({ accepted: [], duplicates: [], unknown: true }));
  const back = await tx.query<{ id: string; was_silent: string | null }>(
    `with old as (select id, silent_since from gateways where id = any($1::text[]) order by id for update)
     update gateways g set
       status = r.status::jsonb, last_seen = now(), first_seen = coalesce(g.first_seen, now()),
       applied_commit = r.applied, last_good_commit = r.last_good, head_commit = r.head,
       attempted_commit = r.attempted, attempted_reason = r.attempted_reason,
       ready = r.ready, healthy = r.healthy, stalled = r.stalled,
       reports = g.reports + r.n, lost_events = g.lost_events + r.lost, silent_since = null
     from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                 $9::text[], $10::text[], $11::bigint[], $12::bigint[])
            as r(id, status, applied, last_good, head, attempted, attempted_reason, ready, healthy, stalled, n, lost),
          old
     where g.id = r.id and old.id = g.id
     returning g.id, old.silent_since as was_silent`,
    [
      latest.map((b) => b.gateway),
      latest.map((b) => JSON.stringify({ ...b.report.status, sentAt: b.report.sentAt })),
      latest.map((b) => b.report.status.applied?.commit ?? null),
      latest.map((b) => b.report.status.lastGood?.commit ?? null),
      latest.map((b) => b.report.status.head ?? null),
      latest.map((b) => b.report.status.lastAttempted?.commit ?? null),
      latest.map((b) => b.report.status.lastAttempted?.reason ?? null),
      latest.map((b) => conditionOf(b.report, 'Ready')),
      latest.map((b) => conditionOf(b.report, 'Healthy')),
      latest.map((b) => conditionOf(b.report, 'Stalled')),
      latest.map((b) => counts.get(b.gateway)!),
      latest.map((b) => lost.get(b.gateway)!),
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

  return all.map((b) => {
    if (!known.has(b.gateway)) return { accepted: [], duplicates: [], unknown: true };
    const accepted: string[] = [];
    const duplicates: string[] = [];
    for (const e of b.report.events) (stored.has(`${b.gateway}\n${e.id}`) ? accepted : duplicates).push(e.id);
    return { accepted, duplicates };
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
