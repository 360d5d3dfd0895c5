// The REST API under /api/v1 for reader and admin tokens: the fleet, gateways with filters, one
// gateway, commits, the event stream; admins add, re-token and remove gateways. Each route names
// the kind of each parameter (./params.ts) and the server parses them before the handler runs;
// the OpenAPI document (./openapi.ts) is written from these entries. Reports (gateway tokens) are
// taken by the server itself.

import { VERDICT_REASONS } from '../model/index.js';
import { addGateway, removeGateway, rotateGatewayToken } from './admin.js';
import { HttpError, json, jsonBody } from './http.js';
import { openApiDocument } from './openapi.js';
import {
  commitPrefix,
  cursor,
  eventKind,
  fullCommit,
  GATEWAY_FILTER_PARAMS,
  gatewayFilterOf,
  gatewayId,
  integer,
  rolloutId,
} from './params.js';
import { fleetSummary } from './fleet-summary.js';
import { commitSummary, getGateway, listEvents, listGateways, recentCommits } from './queries.js';
import { NEW_GATEWAY_JSON_SCHEMA, parseNewGateway } from './report-schema.js';
import { evidenceJson } from '../promoter/evidence.js';
import { reportedTarget, rolloutEvidence } from './rollout-evidence.js';
import type { Route } from './routes.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const ok = (description: string, schema: object) => ({ description, content: { 'application/json': { schema } } });
const str = { type: 'string' };
const page = (item: string) => ({
  type: 'object',
  required: ['items'],
  properties: { items: { type: 'array', items: ref(item) }, next: { type: 'string', description: 'pass as `after`' } },
});
const idParam = { id: { kind: gatewayId, description: 'gateway id' } };
const EVENT_KINDS = [...VERDICT_REASONS, 'silent', 'back'];

export const API_ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: '/api/v1/openapi.json',
    access: 'reader',
    summary: 'This document',
    responses: { 200: ok('OpenAPI 3.1', { type: 'object' }) },
    handle: async (c) => json(c.res, 200, openApiDocument(c.routes)),
  },
  {
    method: 'GET',
    path: '/api/v1/fleet',
    access: 'reader',
    summary: 'The fleet at a glance',
    responses: { 200: ok('Summary', ref('FleetSummary')) },
    handle: async (c) => json(c.res, 200, await fleetSummary(c.db)),
  },
  {
    method: 'GET',
    path: '/api/v1/gateways',
    access: 'reader',
    summary: 'Gateways, by id, with filters',
    query: {
      ...GATEWAY_FILTER_PARAMS,
      after: { kind: gatewayId, description: 'the `next` of the previous page' },
      limit: { kind: integer(1, 1000), description: 'how many (100)' },
    },
    responses: { 200: ok('A page of gateways', page('GatewaySummary')) },
    handle: async ({ db, res, query: q }) =>
      json(
        res,
        200,
        await listGateways(db, {
          ...gatewayFilterOf(q),
          ...(q['after'] !== undefined ? { after: q['after'] as string } : {}),
          ...(q['limit'] !== undefined ? { limit: q['limit'] as number } : {}),
        }),
      ),
  },
  {
    method: 'POST',
    path: '/api/v1/gateways',
    access: 'admin',
    summary: 'Add a gateway (admin); its token is in the answer, once',
    body: NEW_GATEWAY_JSON_SCHEMA,
    responses: {
      201: ok('Added', { type: 'object', properties: { id: str, token: str } }),
      409: ok('Exists', ref('Error')),
    },
    handle: async ({ db, req, res }) => {
      const doc = parseNewGateway(await jsonBody(req, 64 * 1024));
      if ('error' in doc) throw new HttpError(400, `send { "id": "<gateway id>", "labels": {...} }: ${doc.error}`);
      const token = await addGateway(db, doc.id, doc.labels);
      json(res, 201, { id: doc.id, token });
    },
  },
  {
    method: 'GET',
    path: '/api/v1/gateways/{id}',
    access: 'reader',
    summary: 'One gateway: its status, the commits it reported on, its history',
    pathParams: idParam,
    query: { history: { kind: integer(1, 1000), description: 'how many events (50)' } },
    responses: { 200: ok('The gateway', ref('GatewayDetail')) },
    handle: async ({ db, res, path, query }) =>
      json(res, 200, await getGateway(db, path['id'] as string, (query['history'] as number | undefined) ?? 50)),
  },
  {
    method: 'DELETE',
    path: '/api/v1/gateways/{id}',
    access: 'admin',
    summary: 'Remove a gateway and its history (admin)',
    pathParams: idParam,
    responses: { 200: ok('Removed', { type: 'object' }) },
    handle: async ({ db, res, path }) => {
      await removeGateway(db, path['id'] as string);
      json(res, 200, { removed: path['id'] });
    },
  },
  {
    method: 'POST',
    path: '/api/v1/gateways/{id}/token',
    access: 'admin',
    summary: 'A new token for a gateway (admin); the old one stops working at once, on every hub',
    pathParams: idParam,
    responses: { 200: ok('The new token, once', { type: 'object', properties: { id: str, token: str } }) },
    handle: async ({ db, res, path }) =>
      json(res, 200, { id: path['id'], token: await rotateGatewayToken(db, path['id'] as string) }),
  },
  {
    method: 'GET',
    path: '/api/v1/commits',
    access: 'reader',
    summary: 'The newest commits across the fleet',
    query: { limit: { kind: integer(1, 100), description: 'how many (10)' } },
    responses: { 200: ok('Commits, newest first', { type: 'array', items: ref('CommitSummary') }) },
    handle: async ({ db, res, query }) =>
      json(res, 200, await recentCommits(db, (query['limit'] as number | undefined) ?? 10)),
  },
  {
    method: 'GET',
    path: '/api/v1/commits/{sha}',
    access: 'reader',
    summary: 'One commit across the fleet: applied, healthy, rolled back (reasons grouped), rejected, pending, silent',
    pathParams: { sha: { kind: commitPrefix, description: 'the commit or a prefix of 7+ hex digits' } },
    responses: { 200: ok('The commit', ref('CommitSummary')) },
    handle: async ({ db, res, path }) => json(res, 200, await commitSummary(db, path['sha'] as string)),
  },
  {
    method: 'GET',
    path: '/api/v1/events',
    access: 'reader',
    summary: 'The event stream, oldest first, by cursor',
    query: {
      after: { kind: cursor, description: 'the `next` of the previous page (a seq)' },
      gateway: { kind: gatewayId, description: 'one gateway only' },
      kind: { kind: eventKind(EVENT_KINDS), description: 'a verdict (rolled-back, …) or silent or back' },
      limit: { kind: integer(1, 1000), description: 'how many (100)' },
    },
    responses: { 200: ok('A page of events', page('FleetEvent')) },
    handle: async ({ db, res, query: q }) =>
      json(
        res,
        200,
        await listEvents(db, {
          ...(q['after'] !== undefined ? { after: q['after'] as string } : {}),
          ...(q['gateway'] !== undefined ? { gateway: q['gateway'] as string } : {}),
          ...(q['kind'] !== undefined ? { kind: q['kind'] as string } : {}),
          ...(q['limit'] !== undefined ? { limit: q['limit'] as number } : {}),
        }),
      ),
  },
  {
    method: 'GET',
    path: '/api/v1/rollouts/{id}/evidence',
    access: 'reader',
    summary:
      "A rollout's evidence for its gates: every gateway the hub knows and what its reports say about the " +
      "target, on the hub's clock (the promoter reads it)",
    pathParams: { id: { kind: rolloutId, description: 'the rollout, as rollgate-rollout.yaml names it' } },
    query: {
      target: {
        kind: fullCommit,
        description:
          "the rollout's target, a full commit id (the promoter gives it); default: the target most of the " +
          "rollout's gateways name in their reports",
      },
    },
    responses: { 200: ok('The evidence', ref('RolloutEvidence')) },
    handle: async ({ db, res, path, query: q }) => {
      const id = path['id'] as string;
      const target = (q['target'] as string | undefined) ?? (await reportedTarget(db, id));
      json(res, 200, evidenceJson(id, target ?? null, await rolloutEvidence(db, target)));
    },
  },
];
