// The promoter when a rollout goes wrong, and the operator's own steps, end to end against a real
// Git smart-HTTP server and a real hub: a canary's failure aborts (the target goes on the fleet's bad
// list, exit 3), a wave that times out pauses with its cause, pause, resume, abort and promote --force
// are each one signed commit with who and why, and actions that make no sense are refused.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CANARIES, PromoterLab } from '../helpers/promoter-lab.js';

describe('rollgate rollout: aborts, pauses, resumes and forced steps', () => {
  const lab = new PromoterLab();
  let base = '';
  let bad = '';
  let slow = '';

  before(async () => {
    await lab.init();
    base = lab.commitFleet('system v1');
    bad = lab.commitFleet('system v2', (f) => f.replace('LOG_LEVEL: debug', 'LOG_LEVEL: trace'));
  });
  after(() => lab.close());

  test('a first rollout needs --base; a target that is no commit is refused; nothing is written', async () => {
    const head = lab.head();
    let r = await lab.rollout('start', '--target', bad, '--by', 'alice@example.com', '--why', 'v2');
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /no rollout ran on this branch before.*give --base, the commit the fleet runs now; nothing was written/,
    );
    r = await lab.rollout('start', '--target', 'e'.repeat(40), '--base', base, '--by', 'a@b', '--why', 'v2');
    assert.equal(r.code, 1);
    assert.match(r.err, /^error: .*e{12}.*; nothing was written\n$/);
    r = await lab.rollout('pause', '--by', 'alice@example.com', '--why', 'nothing runs');
    assert.equal(r.code, 1);
    assert.match(r.err, /no rollout on this branch .*nothing to pause/);
    assert.equal(lab.head(), head);
  });

  test('a signing key that is not a private key, or none, is an error before anything is read', async () => {
    const r = await lab.rollout(
      'start',
      '--target',
      bad,
      '--base',
      base,
      '--by',
      'a@b',
      '--why',
      'v2',
      '--signing-key',
      lab.key.publicFile,
    );
    assert.equal(r.code, 1);
    assert.match(r.err, /is not an armored OpenPGP private key .*it holds a public key/);
  });

  test("a canary's failure aborts the rollout (exit 3): the target is the fleet's bad commit", async () => {
    let r = await lab.rollout(
      'start',
      '--target',
      bad,
      '--base',
      base,
      '--id',
      'edge-v2',
      '--by',
      'alice@example.com',
      '--why',
      'release v2',
    );
    assert.equal(r.code, 0, r.err);
    await lab.report(CANARIES[0]!, { runs: base, healthy: true, verdicts: [['rolled-back', bad]] });
    r = await lab.rollout('promote');
    assert.equal(r.code, 3, r.err);
    assert.match(r.out, /rollout edge-v2: aborted; [0-9a-f]{12} is bad, every gateway returns to/);
    assert.deepEqual(lab.changed(), ['rollgate-rollout.yaml']);
    const s = lab.stateAt();
    assert.equal(s.state, 'aborted');
    assert.equal(s.bad.length, 1);
    assert.equal(s.bad[0]!.commit, bad);
    assert.equal(s.bad[0]!.rollout, 'edge-v2');
    assert.match(s.bad[0]!.reason, /wave "canary": 1 failed, more than the 0 it tolerates \(gw-c1: rolled-back/);
    const step = s.steps.at(-1)!;
    assert.equal(step.action, 'abort');
    assert.deepEqual(step.evidence?.failures, [{ gateway: 'gw-c1', reason: 'rolled-back' }]);
    const status = await lab.rollout('status');
    assert.equal(status.code, 3);
    assert.match(status.out, /aborted by promoter@\S+ at \S+: fleet: wave "canary"/);
    const again = await lab.rollout('promote');
    assert.equal(again.code, 3);
    assert.match(again.out, /was aborted: its target [0-9a-f]{12} is bad/);
    assert.equal(lab.stateAt().steps.length, s.steps.length, 'nothing written');
  });

  test("a bad commit is never a target again; the next rollout falls back on the aborted one's base", async () => {
    let r = await lab.rollout('start', '--target', bad, '--by', 'alice@example.com', '--why', 'again');
    assert.equal(r.code, 1);
    assert.match(r.err, /is listed as bad \(rollout edge-v2: .*never rolled out again/);
    lab.pull();
    slow = lab.commitFleet('system v3, its gate times out fast', (f) =>
      f.replace('LOG_LEVEL: trace', 'LOG_LEVEL: info').replace('timeout: 1h', 'timeout: 2s'),
    );
    r = await lab.rollout('start', '--target', slow, '--id', 'edge-v3', '--by', 'alice@example.com', '--why', 'v3');
    assert.equal(r.code, 0, r.err);
    const s = lab.stateAt();
    assert.deepEqual([s.base, s.target], [base, slow]);
    assert.deepEqual(
      s.bad.map((b) => b.commit),
      [bad],
      'the fleet list is carried over',
    );
  });

  test('a wave that times out pauses (exit 3) with its cause; promote then waits for a person', async () => {
    await sleep(2_100);
    let r = await lab.rollout('promote');
    assert.equal(r.code, 3, r.err);
    assert.match(r.out, /paused at wave 1 of fleet/);
    const s = lab.stateAt();
    assert.equal(s.state, 'paused');
    assert.match(s.steps.at(-1)!.why, /wave "canary" timed out at .* \(2s\): 0 of 2 healthy for the soak, 2 needed/);
    r = await lab.rollout('promote');
    assert.equal(r.code, 3);
    assert.match(r.out, /is paused by promoter@\S+ at \S+: fleet: wave "canary" timed out.*rollgate rollout resume/);
    r = await lab.rollout('pause', '--by', 'bob@example.com', '--why', 'again');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /paused already/);
    assert.equal(lab.stateAt().steps.length, s.steps.length, 'nothing written');
  });

  test('resume: one step with who and why; the open wave times out from now', async () => {
    const r = await lab.rollout('resume', '--by', 'bob@example.com', '--why', 'canaries were rebooting');
    assert.equal(r.code, 0, r.err);
    const s = lab.stateAt();
    assert.equal(s.state, 'rolling');
    const step = s.steps.at(-1)!;
    assert.deepEqual([step.action, step.by, step.why], ['resume', 'bob@example.com', 'canaries were rebooting']);
    assert.equal(s.waves.fleet[0]!.resumed, step.at);
  });

  test('promote --force opens the next wave whatever the gate says, recording why and what the gate saw', async () => {
    let r = await lab.rollout('promote', '--force');
    assert.equal(r.code, 1);
    assert.match(r.err, /--force takes --why/);
    r = await lab.rollout('promote', '--force', '--why', 'canaries checked by hand', '--by', 'carol@example.com');
    assert.equal(r.code, 0, r.err);
    const s = lab.stateAt();
    assert.equal(s.waves.fleet.length, 2);
    const step = s.steps.at(-1)!;
    assert.deepEqual([step.action, step.by, step.wave], ['open', 'carol@example.com', 1]);
    // The 2s timeout counts from the resumption: by now the gate may say pause as well as wait.
    assert.match(step.why, /^forced by carol@example.com: canaries checked by hand \(the gate: wave "canary" /);
    assert.ok(['wait', 'pause'].includes(step.evidence!.decision!), step.evidence?.decision);
    assert.equal(step.evidence?.healthy, 0, 'what the gate saw is recorded');
  });

  test('pause, then abort by hand: the target goes on the bad list with the reason given', async () => {
    let r = await lab.rollout('pause', '--by', 'dave@example.com', '--why', 'support tickets rising');
    assert.equal(r.code, 0, r.err);
    assert.equal(lab.stateAt().state, 'paused');
    r = await lab.rollout('abort', '--by', 'dave@example.com', '--why', 'support tickets: v3 breaks the api');
    assert.equal(r.code, 0, r.err);
    const s = lab.stateAt();
    assert.equal(s.state, 'aborted');
    assert.deepEqual(s.bad.at(-1), { commit: slow, rollout: 'edge-v3', reason: 'support tickets: v3 breaks the api' });
    r = await lab.rollout('abort', '--by', 'dave@example.com', '--why', 'twice');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /aborted already/);
    r = await lab.rollout('resume', '--by', 'dave@example.com', '--why', 'undo');
    assert.equal(r.code, 1);
    assert.match(r.err, /was aborted and its target [0-9a-f]{12} is bad: it is never resumed/);
    assert.equal(lab.stateAt().steps.length, s.steps.length, 'nothing written');
  });
});
