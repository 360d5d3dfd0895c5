// The list of admission gates and how it is run: the order (trust before anything is read, the
// rollout before the commit it names is checked, the policy last, as it loads the commit), the
// phases, and what each kind of answer does to the gates after it.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { APPLY_GATES, CHOOSE_GATES, GATES, runGates, type Gate } from '../../../src/lifecycle/gates/index.js';
import { BASE, HEAD, ports, subject, TARGET } from '../../helpers/gate-ports.js';

const gate = (name: Gate['name'], check: Gate['check']): Gate => ({ name, phase: 'choose', why: 'test', check });

describe('the admission gates', () => {
  test('in order: trust, descent, rollout (choose), then window, policy (apply)', () => {
    assert.deepEqual(
      GATES.map((g) => `${g.name}:${g.phase}`),
      ['trust:choose', 'descent:choose', 'rollout:choose', 'window:apply', 'policy:apply'],
    );
    const firstApply = GATES.findIndex((g) => g.phase === 'apply');
    assert.ok(
      GATES.slice(firstApply).every((g) => g.phase === 'apply'),
      'every choose gate before every apply gate',
    );
    assert.deepEqual([...CHOOSE_GATES, ...APPLY_GATES], [...GATES]);
    for (const g of GATES) assert.ok(g.why.length > 20, `${g.name} says why it sits where it does`);
  });

  test('run in order: a commit a gate names is the one the gates after it check', async () => {
    const seen: string[] = [];
    const r = await runGates(
      [
        gate('trust', (s) => (seen.push(`trust ${s.commit[0]}`), Promise.resolve({ kind: 'admit' }))),
        gate('rollout', (s) => (seen.push(`rollout ${s.commit[0]}`), Promise.resolve({ kind: 'admit', runs: TARGET }))),
        gate('policy', (s) => (seen.push(`policy ${s.commit[0]}`), Promise.resolve({ kind: 'admit', note: 'ok' }))),
      ],
      subject(),
      ports(),
    );
    assert.deepEqual(seen, ['trust f', 'rollout f', 'policy b']);
    assert.equal(r.kind, 'pass');
    assert.ok(r.kind === 'pass' && r.subject.commit === TARGET && r.subject.head === HEAD);
    assert.deepEqual(r.kind === 'pass' && r.passed, ['trust', 'rollout', 'policy']);
    assert.deepEqual(r.kind === 'pass' && r.notes, ['ok']);
  });

  test('a refusal stops the gates after it', async () => {
    const after: string[] = [];
    const r = await runGates(
      [
        gate('trust', () => Promise.resolve({ kind: 'refuse', commit: HEAD, bad: 'untrusted', reason: 'unsigned' })),
        gate('policy', () => (after.push('policy'), Promise.resolve({ kind: 'admit' }))),
      ],
      subject(),
      ports(),
    );
    assert.deepEqual(r, { kind: 'refuse', gate: 'trust', commit: HEAD, bad: 'untrusted', reason: 'unsigned' });
    assert.deepEqual(after, []);
  });

  test('a deferral with a stand-in goes on with it, the deferral kept; without one it stops', async () => {
    const defer = (instead?: string) =>
      gate('rollout', () =>
        Promise.resolve({
          kind: 'defer',
          cause: 'c',
          why: 'not yet',
          until: 'wave 2',
          ...(instead ? { instead } : {}),
        }),
      );
    const checked: string[] = [];
    const policy = gate('policy', (s) => (checked.push(s.commit[0]!), Promise.resolve({ kind: 'admit' })));
    const meanwhile = await runGates([defer(BASE), policy], subject(), ports());
    assert.equal(meanwhile.kind, 'pass');
    assert.ok(meanwhile.kind === 'pass');
    assert.equal(meanwhile.subject.commit, BASE);
    assert.deepEqual(meanwhile.deferral, {
      gate: 'rollout',
      commit: HEAD,
      cause: 'c',
      why: 'not yet',
      until: 'wave 2',
      instead: BASE,
    });
    assert.deepEqual(meanwhile.passed, ['policy'], 'the deferring gate did not pass');
    assert.deepEqual(checked, ['a']);
    const stopped = await runGates([defer(), policy], subject(), ports());
    assert.equal(stopped.kind, 'defer');
    assert.equal(
      stopped.kind === 'defer' && stopped.commit,
      HEAD,
      "the subject's commit waits, unless it names another",
    );
    const named = await runGates(
      [gate('rollout', () => Promise.resolve({ kind: 'defer', commit: TARGET, cause: 'c', why: 'w', instead: BASE }))],
      subject(),
      ports(),
    );
    assert.equal(named.kind === 'pass' && named.deferral?.commit, TARGET);
    assert.deepEqual(checked, ['a'], 'nothing after a plain deferral');
  });

  test('a gate that throws stops them as an error, naming the gate and the commit', async () => {
    const err = new Error('unreachable');
    const r = await runGates([gate('descent', () => Promise.reject(err))], subject(), ports());
    assert.deepEqual(r, { kind: 'error', gate: 'descent', commit: HEAD, error: err });
  });
});
