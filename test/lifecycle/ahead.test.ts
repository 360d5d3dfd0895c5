// Downloads ahead of the window, as the lifecycle says them (src/lifecycle/ahead.ts): the deferral
// is recorded first as `downloading`, then as `downloaded (…)` only once that is true; a download
// that fails says why and is tried again at the next poll — never a verdict on the commit — and
// one that succeeded is not fetched again at each poll. The ports are in memory (no appliers: a
// desired state with nothing to fetch); the real Engine and registry are docker-window.test.ts's.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLog } from '../../src/base/log.js';
import { AheadOfWindow } from '../../src/lifecycle/ahead.js';
import type { LifecyclePorts } from '../../src/lifecycle/ports.js';
import type { Deferral } from '../../src/lifecycle/recorder.js';
import type { Verdict } from '../../src/lifecycle/verdict.js';
import { DirectorySource } from '../../src/manifest/index.js';
import { desired } from '../helpers/builders.js';

const COMMIT = 'd'.repeat(40);
const WAIT: Deferral = {
  gate: 'window',
  commit: COMMIT,
  cause: 'window targets[0].window opens 2026-12-06T01:00:00.000Z',
  why: 'waiting for the window that opens at 2026-12-06 02:00 Europe/Berlin (2026-12-06T01:00:00Z)',
};

function lab(failures: number) {
  const said: string[] = [];
  let appliersAsked = 0;
  const ports = {
    log: silentLog,
    load: () => Promise.resolve({ desired: desired([], []), repo: new DirectorySource('/nonexistent') }),
    appliers: () => {
      appliersAsked++;
      return appliersAsked <= failures
        ? Promise.reject(new Error('registry 127.0.0.1:5000 did not answer'))
        : Promise.resolve({});
    },
  } as unknown as LifecyclePorts;
  const ahead = new AheadOfWindow(ports, (d) => {
    said.push(d.why);
    return Promise.resolve({ reason: 'deferred', commit: d.commit, detail: d.why } as Verdict);
  });
  return { ahead, said, asked: () => appliersAsked };
}

test('downloading first, then downloaded — and not fetched again at the next poll', async () => {
  const l = lab(0);
  await l.ahead.defer(WAIT);
  assert.deepEqual(l.said, [
    `downloading what it needs, ${WAIT.why}`,
    `downloaded (all it needs was on the gateway already), ${WAIT.why}`,
  ]);
  const v = await l.ahead.defer(WAIT);
  assert.equal(v.reason, 'deferred');
  assert.equal(l.said.at(-1), `downloaded (all it needs was on the gateway already), ${WAIT.why}`);
  assert.equal(l.asked(), 1, 'what is on the gateway is not fetched again');
});

test('a failed download says why, is no verdict, and is tried again at the next poll', async () => {
  const l = lab(1);
  const v = await l.ahead.defer(WAIT);
  assert.equal(v.reason, 'deferred', 'still a deferral, never a bad commit');
  assert.equal(
    l.said.at(-1),
    `not downloaded yet (registry 127.0.0.1:5000 did not answer; tried again at the next poll), ${WAIT.why}`,
  );
  assert.ok(!l.said.some((x) => x.startsWith('downloaded')), 'never said downloaded when it was not');
  await l.ahead.defer(WAIT);
  assert.equal(l.asked(), 2, 'tried again');
  assert.equal(l.said.at(-1), `downloaded (all it needs was on the gateway already), ${WAIT.why}`);
});
