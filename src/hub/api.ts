// The REST API under /api/v1 (described by ./openapi.ts) for reader and admin tokens: the fleet,
// gateways with filters, one gateway, commits, the event stream; admins add, re-token and remove
// gateways. Reports (gateway tokens) are taken by the server itself.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { addGateway, removeGateway, rotateGatewayToken, type Principal } from './admin.js';
import type { Database } from './db.js';
import { HttpError, json, jsonBody } from './http.js';
import { openApiDocument } from './openapi.js';
import { commitSummary, fleetSummary, getGateway, listEvents, listGateways, recentCommits } from './queries.js';

export async function handleApi(
  db: Database,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  who: Principal,
): Promise<void> {
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
  if (method === 'GET' && path === '/api/v1/openapi.json') return json(res, 200, openApiDocument());
  if (method === 'GET' && path === '/api/v1/fleet') return json(res, 200, await fleetSummary(db));
  if (path === '/api/v1/gateways') {
    if (method === 'POST') {
      admin();
      const doc = (await jsonBody(req, 64 * 1024)) as { id?: unknown; labels?: unknown };
      if (typeof doc?.id !== 'string') throw new HttpError(400, 'send { "id": "<gateway id>", "labels": {...} }');
      const labels = (doc.labels ?? {}) as Record<string, string>;
      const token = await addGateway(db, doc.id, labels);
      return json(res, 201, { id: doc.id, token });
    }
    const labels: Record<string, string> = {};
    for (const l of q.getAll('label')) {
      const eq = l.indexOf('=');
      if (eq <= 0) throw new HttpError(400, `label takes key=value, got "${l}"`);
      labels[l.slice(0, eq)] = l.slice(eq + 1);
    }
    const stale = q.get('stale');
    const limit = num('limit');
    return json(
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
      return json(res, 200, { id, token: await rotateGatewayToken(db, id) });
    }
    if (method === 'DELETE') {
      admin();
      await removeGateway(db, id);
      return json(res, 200, { removed: id });
    }
    return json(res, 200, await getGateway(db, id, num('history') ?? 50));
  }
  if (method === 'GET' && path === '/api/v1/commits')
    return json(res, 200, await recentCommits(db, num('limit') ?? 10));
  m = /^\/api\/v1\/commits\/([^/]+)$/.exec(path);
  if (method === 'GET' && m) return json(res, 200, await commitSummary(db, m[1]!));
  if (method === 'GET' && path === '/api/v1/events') {
    const limit = num('limit');
    return json(
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
