// What the agent's resident part answers a poll with, without a worker (src/agent/at-rest.ts): a
// commit waiting for its maintenance window, downloaded, is answered from memory until the window
// opens, and only while everything that answer rests on holds. Pure logic, no process.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { restingAnswer } from '../../src/agent/at-rest.js';
import type { LifecycleMemory, Verdict } from '../../src/lifecycle/index.js';
import { choiceKey, emptyState, Reason, type AgentState } from '../../src/model/index.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const OPENS = Date.parse('2026-12-04T02:00:00Z');
const at = (iso: string) => ({ commit: A, at: iso });

function running(a: string): AgentState {
  return { ...emptyState(), applied: at('2026-12-01T00:00:00Z'), lastGood: { commit: a, at: '2026-12-01T00:00:00Z' } };
}

const deferred: Verdict = { reason: Reason.Deferred, commit: B, detail: 'downloaded (…), waiting for the window' };

/** The memory a worker leaves after the window gate deferred B, downloaded, on a gateway running A. */
function waitingFor(st: AgentState, head = B, commit = B): LifecycleMemory {
  const key = choiceKey(head, st);
  return { chosen: { key, choice: { head, commit } }, waiting: { key, commit, opensAt: OPENS, verdict: deferred } };
}

const rest = (st: AgentState, head: string, memory: LifecycleMemory, now: number, driftDue = false) =>
  restingAnswer(st, head, memory, driftDue, driftDue, now);

test('a downloaded commit waiting for its window is answered without a worker until the window opens', () => {
  const st = running(A);
  const memory = waitingFor(st);
  assert.deepEqual(rest(st, B, memory, OPENS - 3_600_000), { kind: 'unchanged', verdict: deferred });
  assert.deepEqual(rest(st, B, memory, OPENS - 1), { kind: 'unchanged', verdict: deferred });
  assert.deepEqual(rest(st, B, memory, OPENS - 1, true), { kind: 'unchanged', verdict: deferred }, 'drift due');
  assert.equal(rest(st, B, memory, OPENS), undefined, 'the window opens: a worker applies it');
  assert.equal(rest(st, B, memory, OPENS + 60_000), undefined);
});

test('the remembered wait holds only while what it rests on does', () => {
  const st = running(A);
  const memory = waitingFor(st);
  const before = OPENS - 60_000;
  assert.equal(rest(st, C, memory, before), undefined, 'the branch moved on');
  const forgotten = { ...st, bad: [{ commit: C, kind: 'invalid' as const, reason: 'x', at: '2026-12-02T00:00:00Z' }] };
  assert.equal(rest(forgotten, B, memory, before), undefined, 'the bad commits changed');
  const appliedElse = { ...st, applied: { commit: C, at: '2026-12-02T00:00:00Z' } };
  assert.equal(rest(appliedElse, B, memory, before), undefined, 'the gateway runs another commit now');
  const rollingBack = { ...st, rollingBack: { commit: C, since: '2026-12-02T00:00:00Z' }, bad: forgotten.bad };
  assert.equal(rest(rollingBack, B, waitingFor(rollingBack), before), undefined, 'a paused rollback goes first');
  assert.equal(
    rest(st, B, { chosen: memory.chosen! }, before),
    undefined,
    'no wait remembered (downloads not done): a worker asks',
  );
});

test('a wait remembered for another commit than the one chosen is not this one', () => {
  const st = running(A);
  // The rollout at head C gives this gateway B; the wait remembered is for C.
  const key = choiceKey(C, st);
  const memory: LifecycleMemory = {
    chosen: { key, choice: { head: C, commit: B } },
    waiting: { key, commit: C, opensAt: OPENS, verdict: deferred },
  };
  assert.equal(rest(st, C, memory, OPENS - 60_000), undefined);
  const right: LifecycleMemory = { ...memory, waiting: { ...memory.waiting!, commit: B } };
  assert.deepEqual(rest(st, C, right, OPENS - 60_000), { kind: 'unchanged', verdict: deferred });
});
