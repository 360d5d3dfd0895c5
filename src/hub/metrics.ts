// The hub's Prometheus metrics. Fleet gauges are read from the database at each scrape, so every
// hub process behind a load balancer answers the same; the counters are this process's own.

import { Counter, Gauge, Registry } from 'prom-client';
import type { Database } from './db.js';

export class HubMetrics {
  readonly registry = new Registry();
  readonly reports = new Counter({
    name: 'rollgate_hub_reports_total',
    help: 'Reports ingested by this hub process, by result (stored, refused, invalid, too-large, error).',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: 'rollgate_hub_events_total',
    help: 'Verdict events stored by this hub process (duplicates not counted).',
    registers: [this.registry],
  });

  readonly refusedEvents = new Counter({
    name: 'rollgate_hub_events_refused_total',
    help: 'Events this hub process refused one by one (the rest of their reports stored): each says why in the log.',
    registers: [this.registry],
  });

  constructor(db: Database) {
    const gateways = new Gauge({
      name: 'rollgate_hub_gateways',
      help: 'Gateways the hub knows, by state: reporting, silent, never-seen.',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        const [r] = await db.query<{ reporting: string; silent: string; never: string }>(
          `select count(*) filter (where last_seen is not null and silent_since is null) as reporting,
                  count(*) filter (where silent_since is not null) as silent,
                  count(*) filter (where last_seen is null) as never from gateways`,
        );
        this.set({ state: 'reporting' }, Number(r!.reporting));
        this.set({ state: 'silent' }, Number(r!.silent));
        this.set({ state: 'never-seen' }, Number(r!.never));
      },
    });
    void gateways;
    new Gauge({
      name: 'rollgate_hub_gateways_by_condition',
      help: 'Gateways by the status of their Ready, Healthy and Stalled conditions at their last report.',
      labelNames: ['type', 'status'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const rows = await db.query<{ type: string; status: string; n: string }>(
          `select 'Ready' as type, ready as status, count(*) as n from gateways where ready is not null group by ready
           union all select 'Healthy', healthy, count(*) from gateways where healthy is not null group by healthy
           union all select 'Stalled', stalled, count(*) from gateways where stalled is not null group by stalled`,
        );
        for (const r of rows) this.set({ type: r.type, status: r.status }, Number(r.n));
      },
    });
    new Gauge({
      name: 'rollgate_hub_gateways_by_commit',
      help: 'Gateways by the commit they run (the 50 commits run most).',
      labelNames: ['commit'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const rows = await db.query<{ commit: string; n: string }>(
          `select applied_commit as commit, count(*) as n from gateways where applied_commit is not null
            group by applied_commit order by count(*) desc limit 50`,
        );
        for (const r of rows) this.set({ commit: r.commit }, Number(r.n));
      },
    });
    new Gauge({
      name: 'rollgate_hub_webhooks_pending',
      help: 'Webhook deliveries not yet made.',
      registers: [this.registry],
      async collect() {
        const [r] = await db.query<{ n: string }>(
          'select count(*) as n from webhook_deliveries where delivered_at is null and failed_at is null',
        );
        this.set(Number(r!.n));
      },
    });
  }
}
