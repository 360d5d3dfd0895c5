// What the update-interface tests share: a device lab per suite, artifact names by version, and a
// check of the order of interface calls.

import assert from 'node:assert/strict';
import { after, beforeEach } from 'node:test';
import { DeviceLab, requireMenderTools } from './devices.js';

export const skip = requireMenderTools();
export const v = (n: number) => (type: string) => `${type}-v${n}`;
export const repoArtifact = (n: number) => (type: string) => `artifacts/${type}-v${n}.mender`;

/** Asserts that `a` appears before `b` in the call log (first occurrences). */
export function before_(calls: string[], a: string, b: string): void {
  const i = calls.indexOf(a);
  const j = calls.indexOf(b);
  assert.ok(i >= 0, `${a} was not called:\n${calls.join('\n')}`);
  assert.ok(j >= 0, `${b} was not called:\n${calls.join('\n')}`);
  assert.ok(i < j, `${a} should come before ${b}:\n${calls.join('\n')}`);
}

/** One lab per suite, closed after it; `each` runs before every test. */
export function labFor(each?: () => void): DeviceLab {
  const lab = new DeviceLab();
  after(() => lab.close());
  if (each) beforeEach(each);
  return lab;
}
