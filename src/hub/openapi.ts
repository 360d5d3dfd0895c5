// The OpenAPI 3.1 document the hub serves at /api/v1/openapi.json. The report's schema is the one
// the hub checks reports against (./report-schema.ts); a test walks every path here against the
// running server.

import { ROLLGATE_VERSION } from '../base/version.js';
import { REPORT_JSON_SCHEMA } from './report-schema.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const ok = (description: string, schema: object) => ({
  description,
  content: { 'application/json': { schema } },
});
const error = {
  description: 'An error; `error` says what is wrong',
  content: { 'application/json': { schema: ref('Error') } },
};
const query = (name: string, description: string, schema: object = { type: 'string' }) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});
const pathParam = (name: string, description: string) => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: { type: 'string' },
});
const page = (item: string) => ({
  type: 'object',
  required: ['items'],
  properties: { items: { type: 'array', items: ref(item) }, next: { type: 'string', description: 'pass as `after`' } },
});
const str = { type: 'string' };
const num = { type: 'integer' };
const conditions = {
  type: 'object',
  properties: Object.fromEntries(
    ['Ready', 'Healthy', 'Stalled'].map((t) => [t, { enum: ['True', 'False', 'Unknown'] }]),
  ),
};

export function openApiDocument(): object {
  return {
    openapi: '3.1.0',
    info: {
      title: 'rollgate hub',
      version: ROLLGATE_VERSION,
      description:
        'Gateways report their verdicts and status; people and scripts read the fleet. Every path needs a bearer ' +
        'token: a gateway token for POST /api/v1/reports, a reader or admin token for the rest (admin to change).',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths: {
      '/healthz': {
        get: {
          summary: 'Whether the hub and its database answer (no token)',
          security: [],
          responses: { 200: ok('Up', { type: 'object' }), 503: error },
        },
      },
      '/api/v1/reports': {
        post: {
          summary: 'A gateway reports its status and verdict events (gateway token; only as itself)',
          requestBody: { required: true, content: { 'application/json': { schema: ref('Report') } } },
          responses: {
            200: ok('Stored; the agent may forget accepted and duplicate ids', ref('Receipt')),
            400: error,
            401: error,
            403: error,
            413: error,
            415: error,
          },
        },
      },
      '/api/v1/fleet': {
        get: { summary: 'The fleet at a glance', responses: { 200: ok('Summary', ref('FleetSummary')), 401: error } },
      },
      '/api/v1/gateways': {
        get: {
          summary: 'Gateways, by id, with filters',
          parameters: [
            query('label', 'key=value; repeat for several, all must match'),
            query('commit', 'the applied commit or a prefix of 7+ hex digits'),
            query('condition', 'Ready, Healthy or Stalled, optionally =True, =False, =Unknown (bare means =True)'),
            query('stale', 'true: only silent gateways; false: only reporting ones', { type: 'boolean' }),
            query('after', 'the `next` of the previous page'),
            query('limit', '1 to 1000 (100)', num),
          ],
          responses: { 200: ok('A page of gateways', page('GatewaySummary')), 400: error, 401: error },
        },
        post: {
          summary: 'Add a gateway (admin); its token is in the answer, once',
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['id'],
                  properties: { id: str, labels: { type: 'object', additionalProperties: str } },
                },
              },
            },
          },
          responses: {
            201: ok('Added', { type: 'object', properties: { id: str, token: str } }),
            400: error,
            403: error,
            409: error,
          },
        },
      },
      '/api/v1/gateways/{id}': {
        get: {
          summary: 'One gateway: its status, the commits it reported on, its history',
          parameters: [pathParam('id', 'gateway id'), query('history', 'how many events (50)', num)],
          responses: { 200: ok('The gateway', ref('GatewayDetail')), 404: error },
        },
        delete: {
          summary: 'Remove a gateway and its history (admin)',
          parameters: [pathParam('id', 'gateway id')],
          responses: { 200: ok('Removed', { type: 'object' }), 403: error, 404: error },
        },
      },
      '/api/v1/gateways/{id}/token': {
        post: {
          summary: 'A new token for a gateway (admin); the old one stops working',
          parameters: [pathParam('id', 'gateway id')],
          responses: {
            200: ok('The new token, once', { type: 'object', properties: { id: str, token: str } }),
            403: error,
            404: error,
          },
        },
      },
      '/api/v1/commits': {
        get: {
          summary: 'The newest commits across the fleet',
          parameters: [query('limit', '1 to 100 (10)', num)],
          responses: { 200: ok('Commits, newest first', { type: 'array', items: ref('CommitSummary') }) },
        },
      },
      '/api/v1/commits/{sha}': {
        get: {
          summary:
            'One commit across the fleet: applied, healthy, rolled back (reasons grouped), rejected, pending, silent',
          parameters: [pathParam('sha', 'the commit or a prefix of 7+ hex digits')],
          responses: { 200: ok('The commit', ref('CommitSummary')), 400: error, 404: error },
        },
      },
      '/api/v1/events': {
        get: {
          summary: 'The event stream, oldest first, by cursor',
          parameters: [
            query('after', 'the `next` of the previous page (a seq)'),
            query('gateway', 'one gateway only'),
            query('kind', 'a verdict (rolled-back, …) or silent or back'),
            query('limit', '1 to 1000 (100)', num),
          ],
          responses: { 200: ok('A page of events', page('FleetEvent')), 400: error },
        },
      },
      '/api/v1/openapi.json': {
        get: { summary: 'This document', responses: { 200: ok('OpenAPI 3.1', { type: 'object' }) } },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics (reader token)',
          responses: { 200: { description: 'text exposition format' } },
        },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: { type: 'object', required: ['error'], properties: { error: str } },
        Report: REPORT_JSON_SCHEMA,
        Receipt: {
          type: 'object',
          required: ['accepted', 'duplicates'],
          properties: { accepted: { type: 'array', items: str }, duplicates: { type: 'array', items: str } },
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
            reasons: {
              type: 'array',
              items: { type: 'object', properties: { outcome: str, reason: str, count: num, example: str } },
            },
            failures: { type: 'array', items: { type: 'object' } },
          },
        },
        FleetSummary: { type: 'object', required: ['gateways', 'byCondition', 'commits'] },
      },
    },
  };
}
