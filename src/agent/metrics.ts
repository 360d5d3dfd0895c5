// Prometheus metrics of one agent, served on a loopback port only.

import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { RECONCILE_RESULTS, type Condition } from '../model/index.js';
import type { ReportingState } from '../report/index.js';

export class AgentMetrics {
  readonly registry = new Registry();
  readonly polls = new Counter({
    name: 'rollgate_polls_total',
    help: 'Polls of the fleet repo, by result (unchanged, new-commit, bad-commit, poll-failed).',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly reconciles = new Counter({
    name: 'rollgate_reconciles_total',
    help: `Reconciles, by verdict (${RECONCILE_RESULTS.join(', ')}).`,
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'rollgate_reconcile_duration_seconds',
    help: 'Time of reconciles that changed or checked something, health window included.',
    buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900],
    registers: [this.registry],
  });
  readonly rollbacks = new Counter({
    name: 'rollgate_rollbacks_total',
    help: 'Commits rolled back to the last good one, by reason (apply-failed, health-failed, ...).',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly commit = new Gauge({
    name: 'rollgate_commit_info',
    help: 'The commit the gateway runs (role="applied") and the last good one (role="last_good"); value 1.',
    labelNames: ['role', 'commit'],
    registers: [this.registry],
  });
  readonly badCommits = new Gauge({
    name: 'rollgate_bad_commits',
    help: 'Commits recorded as bad, which are never applied again automatically.',
    registers: [this.registry],
  });
  readonly lastGoodHealthy = new Gauge({
    name: 'rollgate_last_good_healthy',
    help: '0 when the last good state failed its health check after a rollback, else 1.',
    registers: [this.registry],
  });
  readonly lastSuccess = new Gauge({
    name: 'rollgate_last_reconcile_success_timestamp_seconds',
    help: 'When the gateway last matched the branch (or the last good commit) with health passed.',
    registers: [this.registry],
  });
  readonly rss = new Gauge({
    name: 'rollgate_process_resident_memory_bytes',
    help: 'Resident memory of the agent.',
    registers: [this.registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });

  readonly condition = new Gauge({
    name: 'rollgate_condition',
    help: "The gateway's conditions (Ready, Healthy, Stalled) with status and reason; value 1.",
    labelNames: ['type', 'status', 'reason'],
    registers: [this.registry],
  });

  /** Gauges of the fleet hub's outbox, read from the reporter at each scrape. */
  watchReporting(reporter: { state(): ReportingState }): void {
    new Gauge({
      name: 'rollgate_report_outbox_events',
      help: 'Verdict events waiting in the outbox for the fleet hub.',
      registers: [this.registry],
      collect() {
        this.set(reporter.state().waiting);
      },
    });
    new Gauge({
      name: 'rollgate_report_hub_reachable',
      help: '1 while the fleet hub takes reports, 0 while it is out of reach.',
      registers: [this.registry],
      collect() {
        this.set(reporter.state().outage ? 0 : 1);
      },
    });
  }

  setConditions(conditions: readonly Condition[]): void {
    this.condition.reset();
    for (const c of conditions) this.condition.set({ type: c.type, status: c.status, reason: c.reason }, 1);
  }

  setCommits(applied: string | undefined, lastGood: string | undefined): void {
    this.commit.reset();
    if (applied) this.commit.set({ role: 'applied', commit: applied }, 1);
    if (lastGood) this.commit.set({ role: 'last_good', commit: lastGood }, 1);
  }

  /** Listens on `host:port` (loopback only, checked by the config schema); resolves to the address. */
  async serve(listen: string): Promise<{ server: Server; address: string }> {
    const i = listen.lastIndexOf(':');
    const host = listen.slice(0, i).replace(/^\[|\]$/g, '');
    const port = Number(listen.slice(i + 1));
    const server = createServer((req, res) => {
      if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
        this.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': this.registry.contentType });
            res.end(text);
          },
          (err: Error) => {
            res.writeHead(500);
            res.end(err.message);
          },
        );
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('rollgate serves /metrics\n');
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new Error(
            `cannot serve metrics ` +
              `on ${listen}: ${err.code === 'EADDRINUSE' ? 'the port is taken' : err.message} (set ` +
              `metrics.listen, ROLLGATE_METRICS_LISTEN or --metrics-listen; "off" turns them off)`,
          ),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    const a = server.address();
    const address =
      a && typeof a === 'object' ? `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : listen;
    return { server, address };
  }
}
