// A report (src/model/report.ts) checked against its JSON schema (./report-json-schema.ts) before
// anything is stored. Properties the hub does not know are dropped (an agent newer than the hub
// loses nothing the hub could use).
//
// The report as a whole (its envelope and the gateway's status) is refused with a 400; each
// event is checked on its own, so one event the hub cannot take is refused by itself, in the
// answer, and never holds back the others.

import type { ErrorObject } from '../base/validator.js';
import type { Report, ReportEvent } from '../model/index.js';
import { firstUnstorable } from './params.js';
// Compiled at build time from ./report-json-schema.ts (scripts/gen-validators.mjs): the hub loads no ajv.
import { checkEnvelope, checkEvent, checkNewGateway } from './report-validators.js';

export { NEW_GATEWAY_JSON_SCHEMA, REPORT_JSON_SCHEMA } from './report-json-schema.js';

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
