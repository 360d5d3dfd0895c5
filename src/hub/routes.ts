// Every route of the hub, API and page alike, is one entry of a table: its method, its path with
// typed parameters, the query parameters it takes and of what kind (./params.ts), who may call
// it. The server matches a request against the table and parses every parameter before the
// route's handler runs, so a handler only ever sees values of the kind it asked for; a parameter
// the route does not take, one given twice, or one that does not parse is a 400 naming it. The
// OpenAPI document is written from the same table (./openapi.ts).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from './admin.js';
import type { Database } from './db.js';
import { decodeStrict, HttpError, parseQuery, type ParamKind } from './params.js';

export type Method = 'GET' | 'POST' | 'DELETE';

/**
 * Who may call a route: nobody needs a token for `none`; `gateway` routes decide for themselves
 * (reports are authenticated in the transaction that stores them); `reader` takes a reader or
 * admin token, `admin` an admin one.
 */
export type Access = 'none' | 'gateway' | 'reader' | 'admin';

export interface Param {
  kind: ParamKind<unknown>;
  description: string;
  /** May be given several times (the handler gets a list). */
  repeat?: boolean;
}

export interface RouteContext {
  db: Database;
  req: IncomingMessage;
  res: ServerResponse;
  /** Set for reader and admin routes. */
  who: Principal | undefined;
  /** The token `who` was found by: the bearer header's, or on a page the session cookie's. */
  token: string | undefined;
  path: Record<string, unknown>;
  query: Record<string, unknown>;
  routes: readonly Route[];
}

export interface Route {
  method: Method;
  /** With {name} for each path parameter, as OpenAPI writes it. */
  path: string;
  access: Access;
  /** A page for people: its token may come from the login cookie, and without one it sends them to log in. */
  page?: boolean;
  summary: string;
  pathParams?: Record<string, Param>;
  query?: Record<string, Param>;
  /** The body it takes, for the OpenAPI document (the handler reads and checks it). */
  body?: object;
  /** Its answers other than the errors every route may give. */
  responses: Record<number, object>;
  /** Left out of the OpenAPI document (pages, the login form). */
  hidden?: boolean;
  handle(c: RouteContext): Promise<void>;
}

export interface Matched {
  route: Route;
  path: Record<string, unknown>;
}

const segments = (p: string) => p.split('/').slice(1);

/**
 * The route for a request and its path parameters, parsed. A path no route has is a 404; a path
 * that some route has, with another method, a 405 that says which methods it takes.
 */
export function match(routes: readonly Route[], method: string, rawPath: string): Matched {
  const raw = segments(rawPath);
  const allowed: Method[] = [];
  for (const route of routes) {
    const want = segments(route.path);
    if (want.length !== raw.length) continue;
    const found: Record<string, string> = {};
    let same = true;
    for (const [i, w] of want.entries()) {
      const name = /^\{(\w+)\}$/.exec(w)?.[1];
      if (name) {
        if (raw[i] === '') same = false;
        else found[name] = raw[i]!;
      } else if (w !== raw[i]) same = false;
      if (!same) break;
    }
    if (!same) continue;
    if (route.method !== method) {
      allowed.push(route.method);
      continue;
    }
    const path: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(found)) {
      const p = route.pathParams?.[name];
      if (!p) throw new Error(`route ${route.path} does not describe its parameter ${name}`);
      path[name] = p.kind.parse(decodeStrict(value, `the path's ${name}`), name);
    }
    return { route, path };
  }
  if (allowed.length > 0)
    throw new HttpError(405, `${rawPath.slice(0, 200)} takes ${allowed.join(', ')}, not ${method}`, {
      allow: allowed.join(', '),
    });
  throw new HttpError(
    404,
    `no ${method} ${rawPath.slice(0, 200)} here` +
      (rawPath.startsWith('/api/') ? ' (the API is described at /api/v1/openapi.json)' : ''),
  );
}

/** The query parameters a route takes, parsed by their kinds. */
export function parseRouteQuery(route: Route, search: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const takes = route.query ?? {};
  for (const [name, given] of parseQuery(search)) {
    // A form sends its empty fields: on a page, an empty value is a filter not set.
    const values = route.page ? given.filter((v) => v !== '') : given;
    if (values.length === 0) continue;
    const p = takes[name];
    if (!p) {
      const known = Object.keys(takes);
      throw new HttpError(
        400,
        `${route.path} takes no parameter ${JSON.stringify(name.slice(0, 40))}` +
          (known.length ? ` (it takes ${known.join(', ')})` : ''),
      );
    }
    if (!p.repeat && values.length > 1)
      throw new HttpError(400, `${name} is given ${values.length} times; give it once`);
    if (p.repeat && values.length > 64) throw new HttpError(400, `${name} is given more than 64 times`);
    const parsed = values.map((v) => p.kind.parse(v, name));
    out[name] = p.repeat ? parsed : parsed[0];
  }
  return out;
}
