// The hub's background work, run by whichever hub process takes the job's advisory lock, so
// several hubs on one PostgreSQL do it once: marking gateways silent, and delivering webhooks.
// Deliveries are rows written with the events that caused them; a delivery is claimed for a
// while (a lease), sent, and then marked delivered or given a later try, so a hub killed while
// sending leaves it to be sent again when the lease runs out.

import { createHmac } from 'node:crypto';
import type { Log } from '../base/log.js';
import type { Database } from './db.js';
import { enqueueDeliveries } from './ingest.js';
import { iso } from './queries.js';
import { silentNotification, type WebhookTarget } from './webhook-body.js';

const SILENCE_LOCK = 0x72672d73696c; // "rg-sil"
const WEBHOOK_LOCK = 0x72672d776862; // "rg-whb"
const RETENTION_LOCK = 0x72672d726574; // "rg-ret"

/**
 * Forgets events (and finished webhook deliveries) older than `retainMs`, a bounded batch per
 * round so a first run on a big table does not hold a long transaction. Each gateway's status and
 * its newest verdict per commit stay. Returns how many events went.
 */
export async function forgetOld(db: Database, retainMs: number): Promise<number> {
  const interval = `${retainMs} milliseconds`;
  const n = await db.exclusive(RETENTION_LOCK, async (tx) => {
    const gone = await tx.query(
      `delete from events where seq in (
         select seq from events where received_at < now() - $1::interval order by seq limit 20000)
       returning seq`,
      [interval],
    );
    await tx.query(
      `delete from webhook_deliveries
        where (delivered_at is not null or failed_at is not null) and created_at < now() - $1::interval`,
      [interval],
    );
    return gone.length;
  });
  return n ?? 0;
}

/** Marks gateways silent that have not reported for `afterMs`; returns their ids. */
export async function markSilent(db: Database, afterMs: number, webhooks: readonly WebhookTarget[]): Promise<string[]> {
  const out = await db.exclusive(SILENCE_LOCK, async (tx) => {
    const rows = await tx.query<{ id: string; last_seen: string; now: string }>(
      `update gateways set silent_since = now()
        where silent_since is null and last_seen is not null and last_seen < now() - $1::interval
        returning id, last_seen, now() as now`,
      [`${afterMs} milliseconds`],
    );
    if (rows.length === 0) return [];
    await tx.query(
      `insert into events (gateway_id, event_id, kind, at, detail, body)
       select g, 'silent-' || to_char(now(), 'YYYYMMDDHH24MISSMS'), 'silent', now(), d, '{}'::jsonb
         from unnest($1::text[], $2::text[]) as x(g, d)
       on conflict do nothing`,
      [rows.map((r) => r.id), rows.map((r) => `no report since ${iso(r.last_seen)}`)],
    );
    const deliveries = [];
    for (const r of rows)
      for (const w of webhooks)
        if (w.events.includes('silent'))
          deliveries.push({
            url: w.url,
            kind: 'silent',
            body: JSON.stringify(silentNotification(r.id, iso(r.last_seen), iso(r.now))),
          });
    await enqueueDeliveries(tx, deliveries);
    return rows.map((r) => r.id);
  });
  return out ?? [];
}

/** Any user:password@ in a text, masked. */
function withoutCredentials(text: string): string {
  return text.replace(/\/\/[^/\s@]*@/g, '//***@');
}

/**
 * A webhook's address as logs show it: scheme, host and the start of the path. Chat services put
 * the webhook's secret in its path (Slack's /services/T…/B…/XXXX), so only that start is shown.
 */
export function shownUrl(url: string): string {
  if (!URL.canParse(url)) return 'an unparseable URL';
  const u = new URL(url);
  const path = u.pathname.length > 12 ? `${u.pathname.slice(0, 12)}…` : u.pathname;
  return `${u.protocol}//${u.host}${path}`;
}

export interface DeliveryOptions {
  webhooks: readonly WebhookTarget[];
  log: Log;
  timeoutMs?: number;
  /** The first retry's delay; doubled each time, up to an hour. */
  backoffMs?: number;
  /** A delivery that keeps failing this long is given up (and logged). */
  giveUpMs?: number;
}

/** Sends the deliveries that are due; returns how many were delivered. */
export async function deliverWebhooks(db: Database, o: DeliveryOptions): Promise<number> {
  const lease = Math.max(60_000, (o.timeoutMs ?? 10_000) * 3);
  const due = await db.exclusive(WEBHOOK_LOCK, (tx) =>
    tx.query<{ id: string; url: string; kind: string; body: unknown; attempts: number; created_at: string }>(
      `update webhook_deliveries set next_at = now() + $1::interval
        where id in (select id from webhook_deliveries
                      where delivered_at is null and failed_at is null and next_at <= now()
                      order by id limit 50)
        returning id, url, kind, body, attempts, created_at`,
      [`${lease} milliseconds`],
    ),
  );
  let delivered = 0;
  for (const d of due ?? []) {
    const index = o.webhooks.findIndex((w) => w.url === d.url);
    const target = o.webhooks[index];
    const to = `${shownUrl(d.url)}${index >= 0 ? ` (webhooks[${index}])` : ''}`;
    if (!target) {
      // Taken out of the configuration since it was queued: it is not sent anywhere any more.
      await db.query(
        "update webhook_deliveries set failed_at = now(), last_error = 'no longer configured' where id = $1",
        [d.id],
      );
      o.log.warn(
        { url: shownUrl(d.url), kind: d.kind },
        `a ${d.kind} webhook to ${to} is no longer configured; dropped`,
      );
      continue;
    }
    const body = JSON.stringify(d.body);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'rollgate-hub' };
    if (target.secret)
      headers['x-rollgate-signature'] = `sha256=${createHmac('sha256', target.secret).update(body).digest('hex')}`;
    let error: string | undefined;
    try {
      const res = await fetch(d.url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
    } catch (err) {
      const cause = (err as { cause?: { message?: unknown } }).cause?.message;
      error = withoutCredentials(`${(err as Error).message}${typeof cause === 'string' ? `: ${cause}` : ''}`);
    }
    if (!error) {
      await db.query('update webhook_deliveries set delivered_at = now(), attempts = attempts + 1 where id = $1', [
        d.id,
      ]);
      delivered++;
      continue;
    }
    const attempts = Number(d.attempts) + 1;
    const age = Date.now() - Date.parse(iso(d.created_at));
    if (age > (o.giveUpMs ?? 24 * 3600_000)) {
      await db.query('update webhook_deliveries set failed_at = now(), attempts = $2, last_error = $3 where id = $1', [
        d.id,
        attempts,
        error,
      ]);
      o.log.error(
        { url: shownUrl(d.url), kind: d.kind, attempts },
        `a ${d.kind} webhook to ${to} failed ${attempts} times (${error}); it is given up`,
      );
      continue;
    }
    const delay = Math.min(3600_000, (o.backoffMs ?? 10_000) * 2 ** Math.min(attempts - 1, 20));
    await db.query(
      `update webhook_deliveries set attempts = $2, last_error = $3, next_at = now() + $4::interval where id = $1`,
      [d.id, attempts, error, `${delay} milliseconds`],
    );
    o.log.warn(
      { url: shownUrl(d.url), kind: d.kind, attempts },
      `a ${d.kind} webhook to ${to} failed (${error}); trying again in ${Math.round(delay / 1000)}s`,
    );
  }
  return delivered;
}
