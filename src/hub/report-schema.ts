// The JSON schema of a report (src/model/report.ts), checked before anything is stored and
// served in the OpenAPI document. Bounds on every list, string and number: a report is small,
// and one that is not was not written by rollgate. Times must exist on a calendar. Properties the
// hub does not know are dropped (an agent newer than the hub loses nothing the hub could use).
//
// The report as a whole (its envelope and the gateway's status) is refused with a 400; each
// event is checked on its own, so one event the hub cannot take is refused by itself, in the
// answer, and never holds back the others.

import { Ajv, type ErrorObject } from 'ajv';
import { CONDITION_TYPES, REPORT_SCHEMA, VERDICT_REASONS, type Report, type ReportEvent } from '../model/index.js';
import { firstUnstorable, isIsoTime, LABEL_KEY, MAX_LABEL_VALUE, MAX_LABELS } from './params.js';

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

// Reports drop what they do not know; an admin's request is checked as written.
const lenient = new Ajv({ allErrors: false, strict: false, removeAdditional: true });
const strict = new Ajv({ allErrors: false, strict: false });
for (const a of [lenient, strict]) a.addFormat('date-time', isIsoTime);
const checkEnvelope = lenient.compile(envelope({ type: 'object' }));
const checkEvent = lenient.compile<ReportEvent>(EVENT_JSON_SCHEMA);
const checkNewGateway = strict.compile<{ id: string; labels?: Record<string, string> }>(NEW_GATEWAY_JSON_SCHEMA);

function describe(e: ErrorObject, top: string): string {
  const where = e.instancePath ? `${top}${e.instancePath.replace(/\//g, '.')}` : top || 'the document';
  if (e.keyword === 'format') return `${where} is not a time that exists (ISO 8601, e.g. 2026-11-30T12:00:00Z)`;
  if (e.propertyName !== undefined)
    return `${where} has a key that is not allowed: ${JSON.stringify(e.propertyName.slice(0, 80))} ${e.message ?? ''}`;
  return `${where} ${e.message ?? 'is wrong'}`;
}

const firstError = (errors: ErrorObject[] | null | undefined, top: string) =>
  errors?.[0] ? describe(errors[0], top) : 'not what the hub takes';

export interface ParsedReport {
  report: Report;
  /** Events refused by themselves: the rest of the report is stored. */
  refused: { id: string; error: string }[];
}

/**
 * The report with the events the hub can take, and those it refuses and why; or why the report
 * as a whole is refused (its first fault). `mayHoldUnstorable` false (its text has no escape that
 * could make one) skips the walk through its strings.
 */
export function parseReport(doc: unknown, mayHoldUnstorable = true): ParsedReport | { error: string } {
  if (!checkEnvelope(doc)) return { error: firstError(checkEnvelope.errors, '').replace(/^\./, '') };
  const d = doc as unknown as Report;
  const whole = mayHoldUnstorable ? firstUnstorable({ ...d, events: [] }, 'the report') : undefined;
  if (whole) return { error: `${whole}, which the hub cannot store` };
  const events: ReportEvent[] = [];
  const refused: ParsedReport['refused'] = [];
  for (const [i, e] of (d.events as unknown[]).entries()) {
    const id = typeof (e as { id?: unknown }).id === 'string' ? (e as { id: string }).id.slice(0, 64) : `#${i}`;
    const fault = !checkEvent(e)
      ? firstError(checkEvent.errors, `events.${i}`)
      : mayHoldUnstorable
        ? firstUnstorable(e, `events.${i}`)?.concat(', which the hub cannot store')
        : undefined;
    if (fault) refused.push({ id, error: fault });
    else events.push(e as ReportEvent);
  }
  return { report: { ...d, events }, refused };
}

/** A new gateway as the admin API takes it, or why not. */
export function parseNewGateway(doc: unknown): { id: string; labels: Record<string, string> } | { error: string } {
  if (!checkNewGateway(doc)) return { error: firstError(checkNewGateway.errors, 'the body') };
  const hit = firstUnstorable(doc, 'the body');
  if (hit) return { error: `${hit}, which the hub cannot store` };
  return { id: doc.id, labels: doc.labels ?? {} };
}
