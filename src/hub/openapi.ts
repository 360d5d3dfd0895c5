// The OpenAPI 3.1 document the hub serves at /api/v1/openapi.json, written from the route table
// (./routes.ts): each route's parameters with the schema of their kind, so the document and what
// the server checks cannot differ. The report's schema is the one the hub checks reports against
// (./report-schema.ts); a test walks every path here against the running server, with hostile
// values for every parameter.

import { ROLLGATE_VERSION } from '../base/version.js';
import { REPORT_JSON_SCHEMA } from './report-schema.js';
import type { Route } from './routes.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: ref('Error') } },
});
const str = { type: 'string' };
const num = { type: 'integer' };
const conditions = {
  type: 'object',
  properties: Object.fromEntries(
    ['Ready', 'Healthy', 'Stalled'].map((t) => [t, { enum: ['True', 'False', 'Unknown'] }]),
  ),
};

function operation(r: Route): object {
  const parameters = [
    ...Object.entries(r.pathParams ?? {}).map(([name, p]) => ({
      name,
      in: 'path',
      required: true,
      description: p.description,
      schema: p.kind.schema,
    })),
    ...Object.entries(r.query ?? {}).map(([name, p]) => ({
      name,
      in: 'query',
      required: false,
      description: p.description,
      schema: p.repeat ? { type: 'array', items: p.kind.schema } : p.kind.schema,
      ...(p.repeat ? { style: 'form', explode: true } : {}),
    })),
  ];
  return {
    summary: r.summary,
    ...(r.access === 'none' ? { security: [] } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: r.body } } } } : {}),
    responses: {
      ...r.responses,
      400: error('A malformed request: `error` names the part and what it takes'),
      ...(r.access !== 'none' ? { 401: error('No token, or not one the hub knows') } : {}),
      ...(r.access === 'admin' ? { 403: error('Not an admin token') } : {}),
      ...(r.pathParams ? { 404: error('Nothing by that name') } : {}),
      ...(r.body ? { 413: error('The body is too large'), 415: error('Not application/json') } : {}),
    },
  };
}

export function openApiDocument(routes: readonly Route[]): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const r of routes) if (!r.hidden) (paths[r.path] ??= {})[r.method.toLowerCase()] = operation(r);
  return {
    openapi: '3.1.0',
    info: {
      title: 'rollgate hub',
      version: ROLLGATE_VERSION,
      description:
        'Gateways report their verdicts and status; people and scripts read the fleet. Every path needs a bearer ' +
        'token: a gateway token for POST /api/v1/reports, a reader or admin token for the rest (admin to change). ' +
        'A request with a parameter a path does not take, or a value not of its kind, is answered 400.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: { type: 'object', required: ['error'], properties: { error: str } },
        Report: REPORT_JSON_SCHEMA,
        Receipt: {
          type: 'object',
          required: ['accepted', 'duplicates', 'refused'],
          properties: {
            accepted: { type: 'array', items: str },
            duplicates: { type: 'array', items: str },
            refused: {
              type: 'array',
              description: 'events the hub will never store, each with why; the rest of the report is stored',
              items: { type: 'object', required: ['id', 'error'], properties: { id: str, error: str } },
            },
          },
        },
        GatewaySummary: {
          type: 'object',
          required: ['id', 'labels', 'silent', 'conditions'],
          properties: {
            id: str,
            labels: { type: 'object', additionalProperties: str },
            createdAt: str,
            firstSeen: str,
            lastSeen: str,
            silent: { type: 'boolean' },
            silentSince: str,
            applied: str,
            lastGood: str,
            head: str,
            lastAttempted: { type: 'object', properties: { commit: str, reason: str } },
            conditions,
            version: str,
            reports: num,
            lostEvents: num,
          },
        },
        GatewayDetail: {
          allOf: [
            ref('GatewaySummary'),
            {
              type: 'object',
              properties: {
                status: { type: 'object', description: 'the status of its last report' },
                commits: { type: 'array', items: { type: 'object' } },
                history: { type: 'array', items: ref('FleetEvent') },
              },
            },
          ],
        },
        FleetEvent: {
          type: 'object',
          required: ['seq', 'gateway', 'id', 'kind', 'at', 'receivedAt'],
          properties: {
            seq: str,
            gateway: str,
            id: str,
            kind: { enum: ['verdict', 'silent', 'back'] },
            verdict: str,
            commit: str,
            to: str,
            reason: str,
            detail: str,
            at: str,
            receivedAt: str,
          },
        },
        CommitSummary: {
          type: 'object',
          required: ['commit', 'gateways', 'applied', 'healthy', 'rolledBack', 'rejected', 'pending', 'silent'],
          properties: {
            commit: str,
            firstSeen: str,
            gateways: num,
            applied: num,
            healthy: num,
            rolledBack: num,
            rejected: num,
            retrying: num,
            pending: num,
            silent: num,
            movedOn: num,
            neverSeen: num,
            reasons: {
              type: 'array',
              items: { type: 'object', properties: { outcome: str, reason: str, count: num, example: str } },
            },
            failures: { type: 'array', items: { type: 'object' } },
          },
        },
        FleetSummary: { type: 'object', required: ['gateways', 'byCondition', 'commits'] },
        RolloutEvidence: {
          type: 'object',
          description:
            "What the hub's reports say about a rollout's target. Times are milliseconds since the epoch on the " +
            "hub's clock; a gateway's own clock is never used.",
          required: ['rollout', 'target', 'now', 'gateways'],
          properties: {
            rollout: str,
            target: {
              type: ['string', 'null'],
              description: 'the target the evidence is about; null when none was given and no report names one',
            },
            now: { type: 'integer', description: "the hub's clock when it answered" },
            gateways: {
              type: 'array',
              items: {
                type: 'object',
                required: ['id', 'labels', 'target', 'lastSeen', 'healthySince', 'failed'],
                properties: {
                  id: str,
                  labels: { type: 'object', additionalProperties: str, description: 'as its agent reports them' },
                  target: {
                    type: ['string', 'null'],
                    description: 'the target when its reports are about it; else the commit it runs',
                  },
                  lastSeen: { type: ['integer', 'null'], description: 'its last report of any kind' },
                  healthySince: {
                    type: ['integer', 'null'],
                    description: 'since when, report after report, it has run the target healthy',
                  },
                  failed: {
                    type: ['object', 'null'],
                    description: 'its newest verdict on the target is a failure (rolled back, rejected)',
                    properties: { at: { type: 'integer' }, reason: str },
                  },
                },
              },
            },
          },
        },
      },
    },
  };
}
