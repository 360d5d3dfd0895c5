// What the hub's hostile-input tests send and expect: characters PostgreSQL text cannot hold, a
// request as raw bytes, a body nested deeper than JSON.stringify writes, and a clear 4xx.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { call, type Answer } from './hub.js';

export const NUL = '\u0000';
export const LONE = '\uD800';

/** One request as bytes on a socket, for what fetch will not send; the status of the answer. */
export async function rawStatus(url: string, request: string): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => s.end(request));
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString('latin1')));
    s.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
    s.on('error', reject);
  });
}

/** What an error answer says: the API's `error`, or the page's alert (a <bdi> isolates words that are not ASCII). */
export const says = (a: Answer) => String(a.body['error'] ?? /role="alert">(?:<bdi>)?([^<]*)</.exec(a.text)?.[1] ?? '');

/** A 4xx with an error that says something, or an assertion naming the case. */
export function refused(what: string, a: Answer, code?: number): void {
  if (code !== undefined) assert.equal(a.status, code, `${what}: ${a.status} ${a.text.slice(0, 300)}`);
  assert.ok(a.status >= 400 && a.status < 500, `${what}: ${a.status} ${a.text.slice(0, 300)}`);
  assert.ok(says(a).length > 10, `${what}: a clear error, got ${a.text.slice(0, 300)}`);
}

export const deep = (n: number): unknown => (n === 0 ? 'bottom' : [deep(n - 1)]);
/** Stands for 5000 nested lists in a body: more than JSON.stringify itself can write. */
export const DEEP = '<deep>';

/** A report sent as text, with DEEP where it says so. */
export function postRaw(l: { url: string; gw: Record<string, string> }, body: unknown): Promise<Answer> {
  const raw = JSON.stringify(body).replace(`"${DEEP}"`, '['.repeat(5000) + ']'.repeat(5000));
  return call(l.url, 'POST', '/api/v1/reports', { token: l.gw['gw-1'], raw });
}
