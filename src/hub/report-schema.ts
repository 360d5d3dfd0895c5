// The JSON schema of a report (src/model/report.ts), checked before anything is stored and
// served in the OpenAPI document. Bounds on every list and string: a report is small, and one
// that is not was not written by rollgate.

import { Ajv, type ErrorObject } from 'ajv';
import { CONDITION_TYPES, REPORT_SCHEMA, VERDICT_CONDITIONS, type Report } from '../model/index.js';

const VERDICTS = Object.keys(VERDICT_CONDITIONS);
const BAD_REASONS = [
  'invalid',
  'apply-failed',
  'health-failed',
  'rollback-incomplete',
  'interrupted',
  'untrusted',
  'rewrite',
  'forbidden',
];
const time = {
  type: 'string',
  maxLength: 40,
  pattern: '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?(Z|[+-]\\d\\d:\\d\\d)$',
};
const commit = { type: 'string', pattern: '^[0-9a-f]{7,64}$' };
const text = (max: number) => ({ type: 'string', maxLength: max });
const mark = { type: 'object', required: ['commit', 'at'], properties: { commit, at: time } };
const conditionStatus = { type: 'string', enum: ['True', 'False', 'Unknown'] };

export const REPORT_JSON_SCHEMA = {
  type: 'object',
  required: ['schema', 'gateway', 'sentAt', 'status', 'events', 'lost'],
  additionalProperties: false,
  properties: {
    schema: { const: REPORT_SCHEMA },
    gateway: text(253),
    sentAt: time,
    lost: { type: 'integer', minimum: 0 },
    events: {
      type: 'array',
      maxItems: 1000,
      items: {
        type: 'object',
        required: ['id', 'at', 'verdict'],
        properties: {
          id: { type: 'string', pattern: '^[A-Za-z0-9-]{1,64}$' },
          at: time,
          verdict: { type: 'string', enum: VERDICTS },
          commit,
          to: commit,
          reason: { type: 'string', enum: BAD_REASONS },
          detail: text(8000),
          conditions: {
            type: 'array',
            maxItems: 8,
            items: {
              type: 'object',
              required: ['type', 'status'],
              properties: { type: { enum: CONDITION_TYPES }, status: conditionStatus },
            },
          },
        },
      },
    },
    status: {
      type: 'object',
      required: ['conditions', 'components', 'containers', 'version', 'labels'],
      properties: {
        labels: { type: 'object', maxProperties: 64, additionalProperties: text(253) },
        applied: mark,
        lastGood: mark,
        lastAttempted: mark,
        head: commit,
        conditions: {
          type: 'array',
          maxItems: 8,
          items: {
            type: 'object',
            required: ['type', 'status', 'reason'],
            properties: {
              type: { enum: CONDITION_TYPES },
              status: conditionStatus,
              reason: text(64),
              message: text(8000),
            },
          },
        },
        bad: { type: 'array', maxItems: 50 },
        components: {
          type: 'array',
          maxItems: 1000,
          items: { type: 'object', required: ['key', 'type'], properties: { key: text(253), type: text(253) } },
        },
        containers: {
          type: 'array',
          maxItems: 1000,
          items: {
            type: 'object',
            required: ['app', 'service', 'image', 'state'],
            properties: { app: text(253), service: text(253), image: text(1024), state: text(32) },
          },
        },
        version: text(64),
        rssBytes: { type: 'integer', minimum: 0 },
        startedAt: time,
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: false, strict: false });
const check = ajv.compile<Report>(REPORT_JSON_SCHEMA);

function describe(e: ErrorObject): string {
  const where = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : 'the report';
  return `${where} ${e.message ?? 'is wrong'}`;
}

/** The report, or why it is not one (the first fault). */
export function parseReport(doc: unknown): { report: Report } | { error: string } {
  if (check(doc)) return { report: doc };
  const first = check.errors?.[0];
  return { error: first ? describe(first) : 'not a report' };
}
