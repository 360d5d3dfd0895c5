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
import { addGateway, AdminError, authenticate, removeGateway, rotateGatewayToken, type Principal } from './admin.js';
import { Batcher } from './batcher.js';
import type { Database } from './db.js';
import { ingest, type Incoming, type Receipt } from './ingest.js';
import { deliverWebhooks, forgetOld, markSilent } from './jobs.js';
import { HubMetrics } from './metrics.js';
import { migrate } from './migrations.js';
import { openApiDocument } from './openapi.js';
import { renderCommitPage, renderFleetPage, renderGatewayPage, renderLoginPage, renderNotFound } from './page.js';
import {
  commitSummary,
  fleetSummary,
  getGateway,
  listEvents,
  listGateways,
  QueryError,
  recentCommits,
} from './queries.js';
import { parseReport } from './report-schema.js';
import { hashToken } from './tokens.js';
import type { WebhookTarget } from './webhook-body.js';

export const DEFAULT_HUB_LISTEN = '127.0.0.1:9480';
const COOKIE = 'rollgate_hub';
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

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function parseListen(listen: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  if (!m || Number(m[2]) > 65535)
    throw new Error(`--listen takes host:port (e.g. ${DEFAULT_HUB_LISTEN}), got "${listen}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

function cookieToken(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, v] = part.trim().split('=');
    if (k === COOKIE && v) return decodeURIComponent(v);
  }
  return undefined;
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  const m = h ? /^Bearer\s+(\S+)$/i.exec(h) : null;
  return m ? m[1] : undefined;
}

/** Errors that mean the database is out of reach (not that a query is wrong). */
function databaseDown(err: unknown): boolean {
  const code = String((err as { code?: unknown }).code);
  return (
    ['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(code) ||
    /^(57P0[1-3]|08...)$/.test(code) ||
    /Connection terminated|timeout exceeded when trying to connect/i.test((err as Error).message ?? '')
  );
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
      if (path === '/logout' && req.method === 'POST')
        return this.redirect(res, '/login', `${COOKIE}=; Max-Age=0; Path=/`);
      const who = await this.who(bearer(req) ?? (page ? cookieToken(req) : undefined));
      if (!who || who.role === 'gateway') {
        if (page && req.method === 'GET') return this.redirect(res, '/login');
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
      return await this.api(req, res, url, who);
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
      else if (isPage && status === 404) this.html(res, renderNotFound(answer), 404);
      else this.json(res, status, { error: answer });
    }
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(text);
  }

  private html(res: ServerResponse, body: string, status = 200): void {
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy':
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
    });
    res.end(body);
  }

  private redirect(res: ServerResponse, to: string, cookie?: string): void {
    res.writeHead(303, { location: to, ...(cookie ? { 'set-cookie': cookie } : {}) });
    res.end();
  }

  private async healthz(res: ServerResponse): Promise<void> {
    try {
      await this.o.db.query('select 1');
      this.json(res, 200, { ok: true });
    } catch (err) {
      this.json(res, 503, { ok: false, error: `the database does not answer: ${(err as Error).message}` });
    }
  }

  private async body(req: IncomingMessage, max: number): Promise<string> {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > max) {
      req.resume();
      throw new HttpError(413, `the body is ${declared} bytes; the hub takes at most ${max}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > max) {
        req.resume();
        throw new HttpError(413, `the body is over ${max} bytes, the most the hub takes`);
      }
      chunks.push(c);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  private async jsonBody(req: IncomingMessage, max: number): Promise<unknown> {
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/json\b/i.test(type)) throw new HttpError(415, 'send Content-Type: application/json');
    const text = await this.body(req, max);
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new HttpError(400, `the body is not JSON: ${(err as Error).message}`);
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
      doc = await this.jsonBody(req, this.o.maxReportBytes ?? 1 << 20);
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
    this.json(res, 200, { accepted: receipt.accepted, duplicates: receipt.duplicates });
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET') return this.html(res, renderLoginPage());
    if (req.method !== 'POST') throw new HttpError(405, 'GET or POST');
    const form = new URLSearchParams(await this.body(req, 4096));
    const token = (form.get('token') ?? '').trim();
    const who = await this.who(token);
    if (!who || who.role === 'gateway')
      return this.html(res, renderLoginPage('That is not a reader or admin token of this hub.'));
    const secure = this.o.tls ? '; Secure' : '';
    this.redirect(res, '/', `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/${secure}`);
  }

  private async page(path: string, res: ServerResponse): Promise<void> {
    const db = this.o.db;
    if (path === '/')
      return this.html(res, renderFleetPage(await fleetSummary(db), (await listGateways(db, { limit: 500 })).items));
    let m = /^\/gateways\/([^/]+)$/.exec(path);
    if (m) return this.html(res, renderGatewayPage(await getGateway(db, decodeURIComponent(m[1]!))));
    m = /^\/commits\/([0-9a-f]{7,64})$/.exec(path);
    if (m) return this.html(res, renderCommitPage(await commitSummary(db, m[1]!)));
    throw new HttpError(404, `no page ${path}`);
  }

  private async api(req: IncomingMessage, res: ServerResponse, url: URL, who: Principal): Promise<void> {
    const db = this.o.db;
    const q = url.searchParams;
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const num = (name: string) => {
      const v = q.get(name);
      if (v === null) return undefined;
      if (!/^\d{1,6}$/.test(v)) throw new HttpError(400, `${name} takes a whole number`);
      return Number(v);
    };
    const admin = () => {
      if (who.role !== 'admin') throw new HttpError(403, 'this needs an admin token');
    };
    if (method === 'GET' && path === '/api/v1/openapi.json') return this.json(res, 200, openApiDocument());
    if (method === 'GET' && path === '/api/v1/fleet') return this.json(res, 200, await fleetSummary(db));
    if (path === '/api/v1/gateways') {
      if (method === 'POST') {
        admin();
        const doc = (await this.jsonBody(req, 64 * 1024)) as { id?: unknown; labels?: unknown };
        if (typeof doc?.id !== 'string') throw new HttpError(400, 'send { "id": "<gateway id>", "labels": {...} }');
        const labels = (doc.labels ?? {}) as Record<string, string>;
        const token = await addGateway(db, doc.id, labels);
        return this.json(res, 201, { id: doc.id, token });
      }
      const labels: Record<string, string> = {};
      for (const l of q.getAll('label')) {
        const eq = l.indexOf('=');
        if (eq <= 0) throw new HttpError(400, `label takes key=value, got "${l}"`);
        labels[l.slice(0, eq)] = l.slice(eq + 1);
      }
      const stale = q.get('stale');
      const limit = num('limit');
      return this.json(
        res,
        200,
        await listGateways(db, {
          labels,
          ...(q.get('commit') ? { commit: q.get('commit')! } : {}),
          ...(q.get('condition') ? { condition: q.get('condition')! } : {}),
          ...(stale !== null ? { stale: stale === 'true' || stale === '1' } : {}),
          ...(q.get('after') ? { after: q.get('after')! } : {}),
          ...(limit !== undefined ? { limit } : {}),
        }),
      );
    }
    let m = /^\/api\/v1\/gateways\/([^/]+)(\/token)?$/.exec(path);
    if (m) {
      const id = decodeURIComponent(m[1]!);
      if (m[2]) {
        if (method !== 'POST') throw new HttpError(405, 'POST makes a new token');
        admin();
        return this.json(res, 200, { id, token: await rotateGatewayToken(db, id) });
      }
      if (method === 'DELETE') {
        admin();
        await removeGateway(db, id);
        return this.json(res, 200, { removed: id });
      }
      return this.json(res, 200, await getGateway(db, id, num('history') ?? 50));
    }
    if (method === 'GET' && path === '/api/v1/commits')
      return this.json(res, 200, await recentCommits(db, num('limit') ?? 10));
    m = /^\/api\/v1\/commits\/([^/]+)$/.exec(path);
    if (method === 'GET' && m) return this.json(res, 200, await commitSummary(db, m[1]!));
    if (method === 'GET' && path === '/api/v1/events') {
      const limit = num('limit');
      return this.json(
        res,
        200,
        await listEvents(db, {
          ...(q.get('after') ? { after: q.get('after')! } : {}),
          ...(q.get('gateway') ? { gateway: q.get('gateway')! } : {}),
          ...(q.get('kind') ? { kind: q.get('kind')! } : {}),
          ...(limit !== undefined ? { limit } : {}),
        }),
      );
    }
    throw new HttpError(404, `no ${method} ${path} in /api/v1 (see /api/v1/openapi.json)`);
  }
}
