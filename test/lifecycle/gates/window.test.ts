// The maintenance window gate (issue 27 fills it in): with no window configured it admits every
// commit, without asking any port.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { windowGate } from '../../../src/lifecycle/gates/window.js';
import { BASE, ports, subject } from '../../helpers/gate-ports.js';

describe('the window gate, as a table', () => {
  for (const [name, s] of [
    ['the head', subject()],
    ["a rollout's base", subject({ commit: BASE })],
  ] as const)
    test(`no window configured: ${name} is admitted, nothing asked`, async () => {
      const p = ports();
      assert.deepEqual(await windowGate.check(s, p), { kind: 'admit' });
      assert.deepEqual(p.calls, []);
    });
});
