// The routes of the pages for people (reader or admin, by the login cookie): the overview, the
// gateway list and one gateway, the commits and one commit, the versions, the events, and the one
// script they load. The list takes the API's filters (GATEWAY_FILTER_PARAMS), parsed the same way.

import type { IncomingMessage } from 'node:http';
import { failureGroups, fleetVersions, gatewayListPage, newestEvents } from './board-queries.js';
import type { Database } from './db.js';
import { GATEWAY_SORTS, type GatewaySort } from './gateway-filter.js';
import { sendHtml } from './http.js';
import { LOCAL_TIME_JS, LOCAL_TIME_PATH } from './local-time.js';
import { renderEventsPage, renderVersionsPage } from './page-fleet.js';
import { renderCommitPage, renderCommitsPage, renderFleetPage, renderGatewayList, renderGatewayPage } from './page.js';
import {
  commitPrefix,
  cursor,
  eventKind,
  GATEWAY_FILTER_PARAMS,
  gatewayFilterOf,
  gatewayId,
  integer,
  oneOf,
  parseQuery,
} from './params.js';
import { fleetOverview } from './fleet-summary.js';
import { commitSummary, getGateway, recentCommitLines } from './queries.js';
import type { CommitNote } from './pages/commit-note.js';
import type { Route } from './routes.js';
import { VERDICT_REASONS } from '../model/index.js';

/** Gateways the overview lists before it links to the full list. */
export const OVERVIEW_GATEWAYS = 25;

/** The query's own pairs for the names given, empty ones left out (a form sends its empty fields). */
function givenPairs(req: IncomingMessage, names: readonly string[]): [string, string][] {
  const search = new URL(req.url ?? '/', 'http://hub').search;
  const out: [string, string][] = [];
  for (const [k, values] of parseQuery(search))
    if (names.includes(k)) for (const v of values) if (v !== '') out.push([k, v]);
  return out;
}

/** The hub's address as the browser reached it, for the page that says how to connect a gateway. */
function hubUrlOf(req: IncomingMessage, tls: boolean): string | undefined {
  const host = req.headers.host;
  return host && /^[A-Za-z0-9.:[\]-]{1,255}$/.test(host) ? `${tls ? 'https' : 'http'}://${host}` : undefined;
}

/** `notes`: each commit's subject and head mark, read from the fleet repo when the hub reads it. */
export function pageRoutes(db: Database, o: { tls: boolean; notes?: () => CommitNote }): Route[] {
  const note = () => o.notes?.();
  const page = { access: 'reader', page: true, hidden: true, responses: {} } as const;
  return [
    {
      ...page,
      method: 'GET',
      path: '/',
      summary: 'The fleet',
      handle: async ({ res }) => {
        const [s, list, failures] = [
          await fleetOverview(db),
          await gatewayListPage(db, {}, 'id', 0, OVERVIEW_GATEWAYS),
          await failureGroups(db),
        ];
        const n = note();
        sendHtml(res, renderFleetPage(s, list.items, { failures, listed: list.total, ...(n ? { note: n } : {}) }));
      },
    },
    {
      ...page,
      method: 'GET',
      path: '/gateways',
      summary: 'The gateways, searched, filtered, sorted and paged',
      query: {
        ...GATEWAY_FILTER_PARAMS,
        sort: { kind: oneOf(GATEWAY_SORTS), description: 'the order (id)' },
        page: { kind: integer(1, 1_000_000), description: 'which page (1)' },
        per: { kind: integer(1, 500), description: 'gateways per page (100)' },
      },
      handle: async ({ req, res, query: q }) => {
        const sort = (q['sort'] as GatewaySort | undefined) ?? 'id';
        const per = (q['per'] as number | undefined) ?? 100;
        const pageNo = (q['page'] as number | undefined) ?? 1;
        const list = await gatewayListPage(db, gatewayFilterOf(q), sort, (pageNo - 1) * per, per);
        const filters = givenPairs(req, Object.keys(GATEWAY_FILTER_PARAMS));
        sendHtml(res, renderGatewayList({ list, filters, sort, per }));
      },
    },
    {
      ...page,
      method: 'GET',
      path: '/gateways/{id}',
      summary: 'One gateway',
      pathParams: { id: { kind: gatewayId, description: 'gateway id' } },
      handle: async ({ req, res, path }) => {
        const hubUrl = hubUrlOf(req, o.tls);
        sendHtml(res, renderGatewayPage(await getGateway(db, path['id'] as string), hubUrl ? { hubUrl } : {}));
      },
    },
    {
      ...page,
      method: 'GET',
      path: '/commits',
      summary: 'The newest commits',
      handle: async ({ res }) => sendHtml(res, renderCommitsPage(await recentCommitLines(db, 30), Date.now(), note())),
    },
    {
      ...page,
      method: 'GET',
      path: '/commits/{sha}',
      summary: 'One commit',
      pathParams: { sha: { kind: commitPrefix, description: 'the commit or a prefix of 7+ hex digits' } },
      handle: async ({ res, path }) =>
        sendHtml(res, renderCommitPage(await commitSummary(db, path['sha'] as string), Date.now(), note())),
    },
    {
      ...page,
      method: 'GET',
      path: '/versions',
      summary: 'Which versions run where',
      handle: async ({ res }) => sendHtml(res, renderVersionsPage(await fleetVersions(db))),
    },
    {
      ...page,
      method: 'GET',
      path: '/events',
      summary: 'The event stream, newest first',
      query: {
        before: { kind: cursor, description: 'the seq to page back from' },
        gateway: { kind: gatewayId, description: 'one gateway only' },
        kind: { kind: eventKind([...VERDICT_REASONS, 'silent', 'back']), description: 'a verdict, silent or back' },
      },
      handle: async ({ req, res, query: q }) => {
        const events = await newestEvents(db, {
          ...(q['before'] !== undefined ? { before: q['before'] as string } : {}),
          ...(q['gateway'] !== undefined ? { gateway: q['gateway'] as string } : {}),
          ...(q['kind'] !== undefined ? { kind: q['kind'] as string } : {}),
          limit: 100,
        });
        sendHtml(res, renderEventsPage({ page: events, filters: givenPairs(req, ['before', 'gateway', 'kind']) }));
      },
    },
    {
      method: 'GET',
      path: LOCAL_TIME_PATH,
      access: 'none',
      hidden: true,
      summary: "The pages' one script: times in the viewer's zone",
      responses: {},
      handle: async ({ res }) => {
        res.writeHead(200, {
          'content-type': 'text/javascript; charset=utf-8',
          'cache-control': 'public, max-age=3600',
          'x-content-type-options': 'nosniff',
        });
        res.end(LOCAL_TIME_JS);
      },
    },
  ];
}
