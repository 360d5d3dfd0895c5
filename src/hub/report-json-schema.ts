// The JSON schemas of what the hub takes (see ./report-schema.ts), as data: served in the OpenAPI
// document, and compiled at build time into ./report-validators.js (scripts/gen-validators.mjs).
// Kept apart from the validation so that the build can read them before the validators exist.
// Bounds on every list, string and number: a report is small, and one that is not was not written
// by rollgate. Times must exist on a calendar.

import { CONDITION_TYPES, REPORT_SCHEMA, VERDICT_REASONS } from '../model/index.js';
import { isIsoTime, LABEL_KEY, MAX_LABEL_VALUE, MAX_LABELS } from './params.js';

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
const time = { type: 'string', maxLength: 40, format: 'date-time' };
const commit = { type: 'string', pattern: '^[0-9a-f]{7,64}$' };
const text = (max: number) => ({ type: 'string', maxLength: max });
const count = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };
const object = (required: string[], properties: Record<string, unknown>) => ({
  type: 'object',
  required,
  additionalProperties: false,
  properties,
});
const mark = object(['commit', 'at'], { commit, at: time });
const rolloutId = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' };
const rolloutRef = object(['id', 'target'], { id: rolloutId, target: commit });
const conditionStatus = { type: 'string', enum: ['True', 'False', 'Unknown'] };

export const EVENT_JSON_SCHEMA = object(['id', 'at', 'verdict'], {
  id: { type: 'string', pattern: '^[A-Za-z0-9-]{1,64}$' },
  at: time,
  verdict: { type: 'string', enum: VERDICT_REASONS },
  commit,
  to: commit,
  reason: { type: 'string', enum: BAD_REASONS },
  detail: text(8000),
  conditions: {
    type: 'array',
    maxItems: 8,
    items: object(['type', 'status'], { type: { enum: CONDITION_TYPES }, status: conditionStatus }),
  },
  rollout: rolloutRef,
});

const STATUS_JSON_SCHEMA = object(['conditions', 'components', 'containers', 'version', 'labels'], {
  labels: {
    type: 'object',
    maxProperties: MAX_LABELS,
    propertyNames: { maxLength: MAX_LABEL_VALUE },
    additionalProperties: text(MAX_LABEL_VALUE),
  },
  applied: mark,
  lastGood: mark,
  lastAttempted: object(['commit', 'at'], { commit, at: time, reason: text(64) }),
  head: commit,
  conditions: {
    type: 'array',
    maxItems: 8,
    items: object(['type', 'status', 'reason'], {
      type: { enum: CONDITION_TYPES },
      status: conditionStatus,
      reason: text(64),
      message: text(8000),
      commit: text(64),
      since: time,
    }),
  },
  bad: {
    type: 'array',
    maxItems: 50,
    items: object(['commit', 'kind', 'reason', 'at'], { commit, kind: text(64), reason: text(8000), at: time }),
  },
  lastError: object(['at', 'message'], { at: time, message: text(8000), commit: text(64) }),
  rollout: object(['id', 'target', 'base', 'state', 'runs', 'code', 'message'], {
    id: rolloutId,
    target: commit,
    base: commit,
    state: text(32),
    runs: { enum: ['base', 'target'] },
    code: text(32),
    wave: object(['number', 'of', 'name', 'open'], {
      number: count,
      of: count,
      name: text(253),
      open: { type: 'boolean' },
    }),
    message: text(8000),
  }),
  deferred: object(['commit', 'gate', 'cause', 'detail', 'since'], {
    commit,
    gate: text(32),
    cause: text(2000),
    detail: text(8000),
    until: text(2000),
    instead: commit,
    since: time,
  }),
  components: {
    type: 'array',
    maxItems: 1000,
    items: object(['key', 'type'], {
      key: text(253),
      type: text(253),
      version: text(253),
      updating: { type: 'boolean' },
    }),
  },
  containers: {
    type: 'array',
    maxItems: 1000,
    items: object(['app', 'service', 'image', 'state'], {
      app: text(253),
      service: text(253),
      image: text(1024),
      state: text(32),
      health: text(32),
      commit: text(64),
    }),
  },
  version: text(64),
  rssBytes: count,
  startedAt: time,
});

const envelope = (events: object) =>
  object(['schema', 'gateway', 'sentAt', 'status', 'events', 'lost'], {
    schema: { const: REPORT_SCHEMA },
    gateway: text(253),
    sentAt: time,
    sequence: object(['boot', 'seq'], {
      boot: { type: 'string', pattern: '^[A-Za-z0-9-]{1,64}$' },
      seq: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
    }),
    lost: count,
    events: { type: 'array', maxItems: 1000, items: events },
    status: STATUS_JSON_SCHEMA,
  });

/** The report with each event only an object: the hub checks each event apart (EVENT_JSON_SCHEMA). */
export const ENVELOPE_JSON_SCHEMA = envelope({ type: 'object' });

/** The whole report, as the OpenAPI document shows it. */
export const REPORT_JSON_SCHEMA = envelope(EVENT_JSON_SCHEMA);

/** A gateway's labels as an admin gives them: a map of string to string, bounded. */
export const LABELS_JSON_SCHEMA = {
  type: 'object',
  maxProperties: MAX_LABELS,
  propertyNames: { pattern: LABEL_KEY.source },
  additionalProperties: { type: 'string', maxLength: MAX_LABEL_VALUE },
};

export const NEW_GATEWAY_JSON_SCHEMA = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', maxLength: 253 }, labels: LABELS_JSON_SCHEMA },
};

/** The formats the schemas name, for ajv's `format` keyword (the generated code imports them from here). */
export const REPORT_FORMATS = { 'date-time': isIsoTime };
