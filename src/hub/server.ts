// `rollgate hub`: the HTTP(S) server in front of the database. Gateways POST reports with their
// own token; people and scripts read the REST API and the page with reader or admin tokens;
// nothing answers without a token but /healthz. The hub keeps nothing in memory that matters —
// all is in the database — so several hubs may serve one PostgreSQL behind a load balancer.

import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Log } from '../base/log.js';
import { isLoopback } from '../base/loopback.js';
import { AdminError, authenticate, type Principal } from './admin.js';
import { API_ROUTES } from './api.js';
import { Batcher } from './batcher.js';
import type { Database } from './db.js';
import { cannotStore, ingest, type Incoming, type Receipt } from './ingest.js';
import { deliverWebhooks, forgetOld, markSilent } from './jobs.js';
import { HubMetrics } from './metrics.js';
import { PromoterLoop, type PromoterSettings } from './promoter-loop.js';
import type { FleetRepoReader, FleetRepoSpec } from './fleet-repo.js';
import { commitNotes, rolloutConsole } from './rollout-routes.js';
import { bearer, databaseDown, HttpError, json, jsonDocument, readBody, redirect, sendHtml } from './http.js';
import { migrate } from './migrations.js';
import { warmUpCounts } from './count-tables.js';
import { escapesUnstorable } from './params.js';
import { renderLoginPage, renderNotFound, renderProblem } from './page.js';
import { pageRoutes } from './page-routes.js';
import { QueryError } from './queries.js';
import { parseReport } from './report-schema.js';
import { match, parseRouteQuery, type Route, type RouteContext } from './routes.js';
import { hashToken, roleOf } from './tokens.js';
import {
  checkLoginForm,
  checkSameOrigin,
  clearCookie,
  loginForm,
  readCookie,
  sessionCookies,
  setCookie,
  type SessionCookies,
} from './session.js';
import type { WebhookTarget } from './webhook-body.js';
import { DEFAULT_HUB_LISTEN } from './defaults.js';

export { DEFAULT_HUB_LISTEN };

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
  /** The promoter loop: one step of the fleet repo's rollout every interval, on this hub's evidence. */
  promoter?: PromoterSettings;
  /** The fleet repo the pages read (read-only): commits, the head, rollouts. */
  repo?: FleetRepoSpec;
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
  private readonly routes: readonly Route[];
  private jobTimer: NodeJS.Timeout | undefined;
  private jobs: Promise<void> | undefined;
  private stopping = false;
  /** Running when the hub was given a promoter. */
  readonly promoter: PromoterLoop | undefined;
  /** Reading the fleet repo when the hub was given one. */
  readonly fleetRepo: FleetRepoReader | undefined;
  private readonly startedAt = Date.now();
  private readonly cookies: SessionCookies;
  /** http(s)://host:port */
  url = '';

  private constructor(private readonly o: HubOptions) {
    this.metrics = new HubMetrics(o.db);
    this.cookies = sessionCookies(Boolean(o.tls));
    const webhooks = o.webhooks ?? [];
    const orderLapseMs = o.silentAfterMs ?? 15 * 60_000;
    this.batcher = new Batcher((items) => o.db.transaction((tx) => ingest(tx, items, { webhooks, orderLapseMs })), {
      write: async (item) =>
        (await o.db.transaction((tx) => ingest(tx, [item], { webhooks, orderLapseMs, oneByOne: true })))[0]!,
      retry: cannotStore,
    });
    this.promoter = o.promoter ? new PromoterLoop(o.db, o.log, o.promoter) : undefined;
    const { reader, routes: rollouts } = rolloutConsole(o);
    this.fleetRepo = reader;
    this.routes = [...this.ownRoutes(), ...API_ROUTES, ...rollouts, ...this.pageRoutes()];
  }

  /** Migrates the database, listens, and starts the background jobs. */
  static async start(o: HubOptions): Promise<Hub> {
    const applied = await migrate(o.db);
    if (applied.length) o.log.info({ versions: applied }, `database schema migrated to version ${applied.at(-1)}`);
    await warmUpCounts(o.db);
    const hub = new Hub(o);
    await hub.listen();
    hub.scheduleJobs(0);
    hub.promoter?.start();
    hub.fleetRepo?.start();
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
    await this.promoter?.stop();
    await this.fleetRepo?.stop();
    await this.o.db.close();
  }

  /** Silence is noticed within a quarter of --silent-after, and at least every 10 s. */
  private get jobIntervalMs(): number {
    return this.o.jobIntervalMs ?? Math.min(10_000, Math.max(250, (this.o.silentAfterMs ?? 15 * 60_000) / 4));
  }

  private scheduleJobs(delay: number): void {
    if (this.stopping) return;
    this.jobTimer = setTimeout(() => {
      void this.runJobs().finally(() => this.scheduleJobs(this.jobIntervalMs));
    }, delay);
    this.jobTimer.unref();
  }

  /**
   * One round of the background jobs, after the round in flight if there is one: a caller that
   * asks for a round gets one that starts after its own writes (a round already under way may have
   * looked before them). Public so tests need not wait for the timer.
   */
  runJobs(): Promise<void> {
    const round = (this.jobs ?? Promise.resolve()).then(() => this.jobRound());
    this.jobs = round;
    void round.finally(() => {
      if (this.jobs === round) this.jobs = undefined;
    });
    return round;
  }

  private async jobRound(): Promise<void> {
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

  /**
   * Who a token is, asked of the database on every request: a token rotated or removed stops
   * working at once on every hub process (no process keeps a copy; see BENCHMARKS.md for the cost).
   */
  private async who(token: string | undefined): Promise<Principal | undefined> {
    return token ? authenticate(this.o.db, token) : undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let page = false;
    let path = '';
    try {
      if (!URL.canParse(req.url ?? '/', 'http://hub')) throw new HttpError(400, 'the request target is not a URL');
      const url = new URL(req.url ?? '/', 'http://hub');
      path = url.pathname;
      page = req.method === 'GET' && !path.startsWith('/api/') && path !== '/metrics' && path !== '/healthz';
      const { route, path: params } = match(this.routes, req.method ?? 'GET', path);
      page = Boolean(route.page);
      const query = parseRouteQuery(route, url.search);
      let who: Principal | undefined;
      let token: string | undefined;
      if (route.access === 'reader' || route.access === 'admin') {
        token = bearer(req) ?? (route.page ? readCookie(req, this.cookies.session) : undefined);
        who = await this.who(token);
        if (!who || who.role === 'gateway') {
          if (route.page && req.method === 'GET') return redirect(res, '/login');
          throw new HttpError(
            401,
            who
              ? 'a gateway token may only send reports'
              : token
                ? 'the hub does not know this token (removed, rotated, or made for another hub)'
                : 'a reader or admin token is needed (Authorization: Bearer)',
          );
        }
        if (route.access === 'admin' && who.role !== 'admin') throw new HttpError(403, 'this needs an admin token');
      }
      const c: RouteContext = { db: this.o.db, req, res, who, token, path: params, query, routes: this.routes };
      return await route.handle(c);
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
      // The rest of a body the hub did not read is drained, so the answer reaches the client.
      if (!req.readableEnded) req.resume();
      if (res.headersSent) res.end();
      else if (page && status === 404) sendHtml(res, renderNotFound(answer), 404);
      else if (page && status < 500) sendHtml(res, renderProblem('Not a page', answer), status);
      else json(res, status, { error: answer }, err instanceof HttpError ? err.headers : {});
    }
  }

  /** Routes the server answers itself: its health, reports from gateways, metrics. */
  private ownRoutes(): Route[] {
    const str = { type: 'string' };
    return [
      {
        method: 'GET',
        path: '/healthz',
        access: 'none',
        summary: 'Whether the hub and its database answer (no token)',
        responses: { 200: { description: 'Up', content: { 'application/json': { schema: { type: 'object' } } } } },
        handle: ({ res }) => this.healthz(res),
      },
      {
        method: 'POST',
        path: '/api/v1/reports',
        access: 'gateway',
        summary: 'A gateway reports its status and verdict events (gateway token; only as itself)',
        body: { $ref: '#/components/schemas/Report' },
        responses: {
          200: {
            description: 'Stored; the agent may forget accepted and duplicate ids, and drops refused ones',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Receipt' } } },
          },
          403: { description: 'The token belongs to another gateway' },
          503: { description: 'The database does not answer; the agent keeps its events and retries' },
        },
        handle: ({ req, res }) => this.report(req, res),
      },
      {
        method: 'GET',
        path: '/metrics',
        access: 'reader',
        summary: 'Prometheus metrics (reader token)',
        responses: { 200: { description: 'text exposition format', content: { 'text/plain': { schema: str } } } },
        handle: async ({ res }) => {
          const text = await this.metrics.registry.metrics();
          res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
          res.end(text);
        },
      },
    ];
  }

  /** The page for people, and its login. */
  private pageRoutes(): Route[] {
    return [
      ...pageRoutes(this.o.db, { tls: Boolean(this.o.tls), notes: () => commitNotes(this.fleetRepo) }),
      {
        method: 'GET',
        path: '/login',
        access: 'none',
        page: true,
        hidden: true,
        summary: 'The login form',
        responses: {},
        handle: async ({ req, res }) => this.loginPage(req, res),
      },
      {
        method: 'POST',
        path: '/login',
        access: 'none',
        page: true,
        hidden: true,
        summary: 'Log in with a reader or admin token',
        responses: {},
        handle: ({ req, res }) => this.login(req, res),
      },
      {
        method: 'POST',
        path: '/logout',
        access: 'none',
        page: true,
        hidden: true,
        summary: 'Log out',
        responses: {},
        handle: async ({ req, res }) => {
          // Another site may not log the operator out either.
          checkSameOrigin(req);
          req.resume();
          redirect(res, '/login', [clearCookie(this.cookies, this.cookies.session)]);
        },
      },
    ];
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
    const token = bearer(req);
    // Whether the token is a gateway's is known only in the transaction that stores the report;
    // what is plainly no gateway token is refused before the body is read.
    if (!token || roleOf(token) !== 'gateway') {
      count('refused');
      req.resume();
      throw new HttpError(
        401,
        token
          ? 'reports take a gateway token (rgw_…), not a reader or admin one'
          : 'no gateway token: reports take Authorization: Bearer rgw_… (`rollgate hub gateway add` prints one)',
      );
    }
    let body: { doc: unknown; text: string };
    try {
      body = await jsonDocument(req, this.o.maxReportBytes ?? 1 << 20);
    } catch (err) {
      count(err instanceof HttpError && err.status === 413 ? 'too-large' : 'invalid');
      throw err;
    }
    const parsed = parseReport(body.doc, escapesUnstorable(body.text));
    if ('error' in parsed) {
      count('invalid');
      throw new HttpError(400, `not a rollgate report: ${parsed.error}`);
    }
    const { report } = parsed;
    let receipt: Receipt;
    try {
      receipt = await this.batcher.submit({ tokenHash: hashToken(token), report });
    } catch (err) {
      count('error');
      throw err;
    }
    if (receipt.denied) {
      count('refused');
      if ('owner' in receipt.denied) {
        const owner = receipt.denied.owner;
        this.o.log.warn(
          { gateway: owner, claimed: report.gateway },
          `the token of gateway ${owner} sent a report as ${report.gateway}; refused`,
        );
        throw new HttpError(403, `this token belongs to gateway ${owner}; it cannot report as ${report.gateway}`);
      }
      throw new HttpError(
        401,
        `this gateway token is not known to the hub for ${report.gateway} (rotated, removed, or never given)`,
      );
    }
    count('stored');
    const refused = [...parsed.refused, ...receipt.refused];
    if (receipt.accepted.length) this.metrics.events.inc(receipt.accepted.length);
    if (refused.length) {
      this.metrics.refusedEvents.inc(refused.length);
      this.o.log.warn(
        { gateway: report.gateway, refused },
        `${refused.length} event(s) of gateway ${report.gateway} refused (the rest stored): ${refused[0]!.error}`,
      );
    }
    json(res, 200, { accepted: receipt.accepted, duplicates: receipt.duplicates, refused });
  }

  /** The log-in form, with its value in it and in its cookie (./session.ts). */
  private loginPage(req: IncomingMessage, res: ServerResponse, error?: string, status = 200): void {
    const form = loginForm(req, this.cookies);
    sendHtml(res, renderLoginPage(form.value, error), status, [form.cookie]);
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams(await readBody(req, 4096));
    try {
      checkLoginForm(req, this.cookies, form);
    } catch (err) {
      // Refused before the token is looked at: a forged form learns nothing of it.
      return this.loginPage(req, res, (err as Error).message, 403);
    }
    const token = (form.get('token') ?? '').trim();
    const who = /^[A-Za-z0-9_-]{1,200}$/.test(token) ? await this.who(token) : undefined;
    if (!who || who.role === 'gateway')
      return this.loginPage(req, res, 'That is not a reader or admin token of this hub.');
    redirect(res, '/', [
      setCookie(this.cookies, this.cookies.session, token),
      clearCookie(this.cookies, this.cookies.login),
    ]);
  }
}
