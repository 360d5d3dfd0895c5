// `rollgate hub`: the HTTP(S) server in front of the database. Gateways POST reports with their
// own token; people and scripts read the REST API and the page with reader or admin tokens;
// nothing answers without a token but /healthz. The hub keeps nothing in memory that matters —
// all is in the database — so several hubs may serve one PostgreSQL behind a load balancer.

import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Log } from '../base/log.js';
import { isLoopback } from '../base/loopback.js';
import type { Report } from '../model/index.js';
import { AdminError, authenticate, type Principal } from './admin.js';
import { handleApi } from './api.js';
import { Batcher } from './batcher.js';
import type { Database } from './db.js';
import { ingest, type Incoming, type Receipt } from './ingest.js';
import { deliverWebhooks, forgetOld, markSilent } from './jobs.js';
import { HubMetrics } from './metrics.js';
import {
  bearer,
  cookieToken,
  COOKIE,
  databaseDown,
  html,
  HttpError,
  json,
  jsonBody,
  readBody,
  redirect,
} from './http.js';
import { migrate } from './migrations.js';
import { renderCommitPage, renderFleetPage, renderGatewayPage, renderLoginPage, renderNotFound } from './page.js';
import { commitSummary, fleetSummary, getGateway, listGateways, QueryError } from './queries.js';
import { parseReport } from './report-schema.js';
import { hashToken } from './tokens.js';
import type { WebhookTarget } from './webhook-body.js';

export const DEFAULT_HUB_LISTEN = '127.0.0.1:9480';
const AUTH_CACHE_MS = 10_000;

export interface HubOptions {
  db: Database;
  log: Log;
  /** host:port; port 0 picks a free one. */
  listen?: string;
  /** PEM contents. */
  tls?: { cert: string; key: string };
  webhooks?: WebhookTarget[];
  /** A gateway that has not reported for this long is silent. */
  silentAfterMs?: number;
  /** How often the background jobs run. */
  jobIntervalMs?: number;
  maxReportBytes?: number;
  webhookBackoffMs?: number;
  /** Events older than this are forgotten (default 90 days). */
  retainMs?: number;
}

function parseListen(listen: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  if (!m || Number(m[2]) > 65535)
    throw new Error(`--listen takes host:port (e.g. ${DEFAULT_HUB_LISTEN}), got "${listen}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

export class Hub {
  readonly metrics: HubMetrics;
  private server!: Server;
  private readonly batcher: Batcher<Incoming, Receipt>;
  private readonly auth = new Map<string, { who: Principal | undefined; until: number }>();
  private jobTimer: NodeJS.Timeout | undefined;
  private jobs: Promise<void> | undefined;
  private stopping = false;
  private readonly startedAt = Date.now();
  /** http(s)://host:port */
  url = '';

  private constructor(private readonly o: HubOptions) {
    this.metrics = new HubMetrics(o.db);
    this.batcher = new Batcher((items) => o.db.transaction((tx) => ingest(tx, items, o.webhooks ?? [])));
  }

  /** Migrates the database, listens, and starts the background jobs. */
  static async start(o: HubOptions): Promise<Hub> {
    const applied = await migrate(o.db);
    if (applied.length) o.log.info({ versions: applied }, `database schema migrated to version ${applied.at(-1)}`);
    const hub = new Hub(o);
    await hub.listen();
    hub.scheduleJobs(0);
    return hub;
  }

  private async listen(): Promise<void> {
    const { host, port } = parseListen(this.o.listen ?? DEFAULT_HUB_LISTEN);
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    this.server = this.o.tls
      ? createHttps({ cert: this.o.tls.cert, key: this.o.tls.key }, handler)
      : createHttp(handler);
    this.server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const a = this.server.address() as AddressInfo;
    const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    this.url = `${this.o.tls ? 'https' : 'http'}://${h}:${a.port}`;
    if (!this.o.tls && !isLoopback(host))
      this.o.log.warn(
        { listen: this.url },
        `listening on plain http on ${host}: tokens cross the network readable; give the hub --tls-cert and ` +
          '--tls-key (agents refuse to send a token over plain http to another machine unless told to)',
      );
  }

  /** Stops taking requests, waits for the jobs and the reports in flight, and closes the database. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.jobTimer) clearTimeout(this.jobTimer);
    await new Promise<void>((r) => {
      this.server.close(() => r());
      this.server.closeIdleConnections();
    });
    await this.jobs;
    await this.o.db.close();
  }

  /** Silence is noticed within a quarter of --silent-after, and at least every 10 s. */
  private get jobIntervalMs(): number {
    return this.o.jobIntervalMs ?? Math.min(10_000, Math.max(250, (this.o.silentAfterMs ?? 15 * 60_000) / 4));
  }

  private scheduleJobs(delay: number): void {
    if (this.stopping) return;
    this.jobTimer = setTimeout(() => {
      this.jobs = this.runJobs().finally(() => {
        this.jobs = undefined;
        this.scheduleJobs(this.jobIntervalMs);
      });
    }, delay);
    this.jobTimer.unref();
  }

  /** One round of the background jobs; public so tests need not wait for the timer. */
  async runJobs(): Promise<void> {
    const log = this.o.log;
    try {
      const after = this.o.silentAfterMs ?? 15 * 60_000;
      // A hub that was down heard nobody: silence counts only once this process has listened that long.
      const silent =
        Date.now() - this.startedAt >= after ? await markSilent(this.o.db, after, this.o.webhooks ?? []) : [];
      if (silent.length)
        log.warn({ gateways: silent }, `${silent.length} gateway(s) stopped reporting: ${silent.join(', ')}`);
      const forgotten = await forgetOld(this.o.db, this.o.retainMs ?? 90 * 24 * 3600_000);
      if (forgotten) log.info({ events: forgotten }, `forgot ${forgotten} event(s) older than the retention`);
      if (this.o.webhooks?.length)
        await deliverWebhooks(this.o.db, {
          webhooks: this.o.webhooks,
          log,
          ...(this.o.webhookBackoffMs ? { backoffMs: this.o.webhookBackoffMs } : {}),
        });
    } catch (err) {
      log.warn({ err: (err as Error).message }, `a background job failed, and runs again: ${(err as Error).message}`);
    }
  }

  private async who(token: string | undefined): Promise<Principal | undefined> {
    if (!token) return undefined;
    const key = hashToken(token);
    const hit = this.auth.get(key);
    if (hit && hit.until > Date.now()) return hit.who;
    const who = await authenticate(this.o.db, token);
    if (this.auth.size > 100_000) this.auth.clear();
    this.auth.set(key, { who, until: Date.now() + AUTH_CACHE_MS });
    return who;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://hub');
    const path = url.pathname;
    const isPage = req.method === 'GET' && !path.startsWith('/api/') && path !== '/metrics' && path !== '/healthz';
    try {
      if (path === '/healthz') return await this.healthz(res);
      if (path === '/api/v1/reports') return await this.report(req, res);
      const page = !path.startsWith('/api/') && path !== '/metrics';
      if (path === '/login') return await this.login(req, res);
      if (path === '/logout' && req.method === 'POST') return redirect(res, '/login', `${COOKIE}=; Max-Age=0; Path=/`);
      const who = await this.who(bearer(req) ?? (page ? cookieToken(req) : undefined));
      if (!who || who.role === 'gateway') {
        if (page && req.method === 'GET') return redirect(res, '/login');
        throw new HttpError(
          401,
          who ? 'a gateway token may only send reports' : 'a reader or admin token is needed (Authorization: Bearer)',
        );
      }
      if (path === '/metrics') {
        res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
        return void res.end(await this.metrics.registry.metrics());
      }
      if (page) return await this.page(path, res);
      return await handleApi(this.o.db, req, res, url, who);
    } catch (err) {
      const down = databaseDown(err);
      const known = err instanceof HttpError || err instanceof QueryError || err instanceof AdminError;
      const status = known ? err.status : down ? 503 : 500;
      const message = (err as Error).message;
      if (status >= 500) this.o.log.error({ path, err: message }, `${path}: ${message}`);
      const answer = known
        ? message
        : down
          ? 'the database does not answer; try again later (agents keep their reports and retry)'
          : 'internal error; see the hub log';
      if (res.headersSent) res.end();
      else if (isPage && status === 404) html(res, renderNotFound(answer), 404);
      else json(res, status, { error: answer });
    }
  }

  private async healthz(res: ServerResponse): Promise<void> {
    try {
      await this.o.db.query('select 1');
      json(res, 200, { ok: true });
    } catch (err) {
      json(res, 503, { ok: false, error: `the database does not answer: ${(err as Error).message}` });
    }
  }

  private async report(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const count = (result: string) => this.metrics.reports.inc({ result });
    if (req.method !== 'POST') throw new HttpError(405, 'reports are POSTed');
    const who = await this.who(bearer(req));
    if (!who || who.role !== 'gateway') {
      count('refused');
      req.resume();
      throw new HttpError(
        401,
        who ? 'reports take a gateway token, not a reader or admin one' : 'this gateway token is not known to the hub',
      );
    }
    let doc: unknown;
    try {
      doc = await jsonBody(req, this.o.maxReportBytes ?? 1 << 20);
    } catch (err) {
      count(err instanceof HttpError && err.status === 413 ? 'too-large' : 'invalid');
      throw err;
    }
    const parsed = parseReport(doc);
    if ('error' in parsed) {
      count('invalid');
      throw new HttpError(400, `not a rollgate report: ${parsed.error}`);
    }
    const report: Report = parsed.report;
    if (report.gateway !== who.gateway) {
      count('refused');
      this.o.log.warn(
        { gateway: who.gateway, claimed: report.gateway },
        `the token of gateway ${who.gateway} sent a report as ${report.gateway}; refused`,
      );
      throw new HttpError(403, `this token belongs to gateway ${who.gateway}; it cannot report as ${report.gateway}`);
    }
    let receipt: Receipt;
    try {
      receipt = await this.batcher.submit({ gateway: who.gateway, report });
    } catch (err) {
      count('error');
      throw err;
    }
    if (receipt.unknown) {
      count('refused');
      throw new HttpError(401, `gateway ${who.gateway} was removed from the hub`);
    }
    count('stored');
    if (receipt.accepted.length) this.metrics.events.inc(receipt.accepted.length);
    json(res, 200, { accepted: receipt.accepted, duplicates: receipt.duplicates });
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET') return html(res, renderLoginPage());
    if (req.method !== 'POST') throw new HttpError(405, 'GET or POST');
    const form = new URLSearchParams(await readBody(req, 4096));
    const token = (form.get('token') ?? '').trim();
    const who = await this.who(token);
    if (!who || who.role === 'gateway')
      return html(res, renderLoginPage('That is not a reader or admin token of this hub.'));
    const secure = this.o.tls ? '; Secure' : '';
    redirect(res, '/', `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/${secure}`);
  }

  private async page(path: string, res: ServerResponse): Promise<void> {
    const db = this.o.db;
    if (path === '/')
      return html(res, renderFleetPage(await fleetSummary(db), (await listGateways(db, { limit: 500 })).items));
    let m = /^\/gateways\/([^/]+)$/.exec(path);
    if (m) return html(res, renderGatewayPage(await getGateway(db, decodeURIComponent(m[1]!))));
    m = /^\/commits\/([0-9a-f]{7,64})$/.exec(path);
    if (m) return html(res, renderCommitPage(await commitSummary(db, m[1]!)));
    throw new HttpError(404, `no page ${path}`);
  }
}
