// What the agent lets out of its process — log lines, the state file that `rollgate status` and
// `history` read, the control socket's answers, reports to the hub — is scrubbed of the secrets
// the process read (src/base/redact.ts) on the way out, here. Identifiers keep their value: a
// commit id, a timestamp or a word of the status vocabulary is never a secret, and a short value
// that happens to occur inside one must not break it.

import { processSecrets, type KeepValue } from '../base/redact.js';
import { CONDITION_TYPES, Reason } from '../model/index.js';

const VOCABULARY = new Set<string>([
  ...Object.values(Reason),
  ...CONDITION_TYPES,
  'True',
  'False',
  'Unknown',
  ...['true', 'false', 'null', 'none', 'yes'],
  ...['trace', 'debug', 'info', 'warn', 'error', 'fatal'],
]);

/** The shapes identifiers take (commit ids, digests, ISO times, UUIDs), and the keys they are kept under. */
const IDENTIFIER = /^(?:[0-9a-f]{40}|[0-9a-f]{64}|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z|[0-9a-f-]{36})$/;
const IDENTIFIER_KEYS = new Set([
  'commit',
  'to',
  'head',
  'id',
  'at',
  'since',
  'time',
  'startedAt',
  'sentAt',
  'nextPollAt',
  'lastDelivered',
]);

export const keepPublic: KeepValue = (key, value) =>
  VOCABULARY.has(value) || (key !== undefined && IDENTIFIER_KEYS.has(key) && IDENTIFIER.test(value));

/** Data as it may leave the process: every string but identifiers scrubbed of the process's secrets. */
export function scrubbed<T>(data: T): T {
  return processSecrets.scrubDeep(data, keepPublic);
}

/** One JSON log line, scrubbed (pino's streamWrite hook). */
export function scrubLogLine(line: string): string {
  return processSecrets.scrubJsonLine(line, keepPublic);
}

/**
 * The gateway's id and labels are public (every report carries them), and so is the status
 * vocabulary: a variable that repeats one must not mask it everywhere.
 */
export function allowPublic(gateway: { id: string; labels: Record<string, string> }): void {
  processSecrets.allow([gateway.id, ...Object.values(gateway.labels), ...VOCABULARY]);
}
