// The promoter end to end: `rollgate rollout start | promote | status` as processes against a real
// Git smart-HTTP server (pushes) and a real hub, whose evidence is what the gateways' reports say —
// sent over HTTP as agents send them. A good commit goes canary → half → everyone, one signed commit
// per wave, each changing rollgate-rollout.yaml alone; every wait says why and writes nothing.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { bucketOf } from '../../src/rollout/index.js';
import { run } from '../helpers/fixtures.js';
import { CANARIES, OTHERS, PromoterLab } from '../helpers/promoter-lab.js';

describe('rollgate rollout start and promote: a good commit through its waves', () => {
  const lab = new PromoterLab();
  let base = '';
  let target = '';

  before(async () => {
    await lab.init();
    base = lab.commitFleet('system v1');
    target = lab.commitFleet('system v2', (f) => f.replace('LOG_LEVEL: debug', 'LOG_LEVEL: trace'));
  });
  after(() => lab.close());

  /** Every gateway in `ids` reports it runs `commit`, healthy. */
  const healthy = (ids: string[], commit = target) =>
    Promise.all(ids.map((id) => lab.report(id, { runs: commit, healthy: true, verdicts: [['applied', commit]] })));

  test('start writes one signed commit that changes rollgate-rollout.yaml alone: the canary wave is open', async () => {
    const r = await lab.rollout(
      'start',
      '--target',
      'main',
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
    assert.match(r.out, /rollout edge-v2: start/);
    const head = lab.head();
    assert.equal(run('git', ['--git-dir', lab.bare, 'rev-parse', 'main^']), target, 'on top of the target');
    assert.deepEqual(lab.changed(), ['rollgate-rollout.yaml']);
    // git itself verifies the signature with the promoter's public key.
    const verified = spawnSync('git', ['--git-dir', lab.bare, 'verify-commit', '--raw', head], {
      env: lab.keyring.env,
      encoding: 'utf8',
    });
    assert.equal(verified.status, 0, verified.stderr);
    assert.match(verified.stderr, new RegExp(`VALIDSIG ${lab.key.fingerprint}`));
    const s = lab.stateAt();
    assert.equal(s.id, 'edge-v2');
    assert.equal(s.state, 'rolling');
    assert.equal(s.base, base);
    assert.equal(s.target, target);
    assert.equal(s.waves.fleet.length, 1, 'the first wave opens at the start');
    assert.deepEqual(
      s.steps.map((x) => [x.action, x.by, x.why, x.wave]),
      [['start', 'alice@example.com', 'release v2', 0]],
    );
    const message = run('git', ['--git-dir', lab.bare, 'log', '-1', '--format=%B', head]);
    assert.match(message, /^rollout edge-v2: start, [0-9a-f]{12} → [0-9a-f]{12}\n\nrelease v2\n/);
  });

  test('no report: the canaries are not reporting, so the wave waits (exit 2) and nothing is written', async () => {
    const before = lab.head();
    const r = await lab.rollout('promote');
    assert.equal(r.code, 2, r.err);
    assert.match(r.out, /waits: .*0 of 2 healthy for the soak, 2 needed.*2 not reporting/);
    assert.equal(lab.head(), before, 'nothing written');
  });

  test('a canary healthy on another commit is no evidence: it is pending', async () => {
    await Promise.all(CANARIES.map((id) => lab.report(id, { runs: base, healthy: true })));
    const r = await lab.rollout('promote', '--output', 'json');
    assert.equal(r.code, 2, r.err);
    const out = JSON.parse(r.out) as { written: boolean; message: string; exit: number };
    assert.equal(out.written, false);
    assert.equal(out.exit, 2);
    assert.match(out.message, /2 not on the target yet/);
  });

  test('healthy on the target, but not yet for the soak: it waits on the soak', async () => {
    await healthy(CANARIES);
    const r = await lab.rollout('promote');
    assert.equal(r.code, 2, r.err);
    assert.match(r.out, /2 soaking, the first done at/);
  });

  test('healthy for the soak, confirmed: wave 2 opens with the exact threshold for the gateways known', async () => {
    await sleep(1_100);
    await healthy(CANARIES);
    const before = lab.head();
    const r = await lab.rollout('promote', '--by', 'promoter@ci');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /wave 2 of 3 "half" of fleet opens/);
    assert.equal(run('git', ['--git-dir', lab.bare, 'rev-parse', 'main^']), before, 'one commit on the head it read');
    assert.deepEqual(lab.changed(), ['rollgate-rollout.yaml']);
    const s = lab.stateAt();
    assert.equal(s.waves.fleet.length, 2);
    const threshold = s.waves.fleet[1]!.threshold!;
    const under = OTHERS.filter((id) => bucketOf(s.salt, id) < threshold);
    assert.equal(under.length, 4, 'exactly half of the 8 gateways no match names');
    const step = s.steps.at(-1)!;
    assert.deepEqual([step.action, step.by, step.track, step.wave], ['open', 'promoter@ci', 'fleet', 1]);
    assert.deepEqual(
      [step.evidence?.decision, step.evidence?.members, step.evidence?.healthy],
      ['advance', 2, 2],
      'the evidence behind the step',
    );
    assert.match(step.why, /fleet: wave "canary": 2 of 2 healthy for 1s, 2 needed/);
  });

  test('status shows each wave, the open one judged on the evidence, and every gateway of it', async () => {
    const r = await lab.rollout('status');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^Rollout edge-v2 \(rolling\) on main at [0-9a-f]{12}: base/);
    assert.match(
      r.out,
      /waves of fleet: 1 canary \(open since [^)]+\), 2 half \(open since [^,]+, threshold 0\.\d+\), 3 everyone/,
    );
    assert.match(r.out, /gate of wave 2: wait: wave "half" waits: 0 of 4 healthy/);
    const j = await lab.rollout('status', '--output', 'json');
    const out = JSON.parse(j.out) as {
      rollout: { id: string; state: string };
      tracks: { track: string; waves: { open: boolean }[]; gate: { wave: number; gateways: { id: string }[] } }[];
      steps: unknown[];
    };
    assert.deepEqual([out.rollout.id, out.rollout.state], ['edge-v2', 'rolling']);
    assert.deepEqual(
      out.tracks[0]!.waves.map((w) => w.open),
      [true, true, false],
    );
    assert.equal(out.tracks[0]!.gate.wave, 2);
    assert.equal(out.tracks[0]!.gate.gateways.length, 4);
    assert.equal(out.steps.length, 2);
  });

  test('the half wave passes, then everyone, then the rollout completes: one commit per step', async () => {
    const half = lab.stateAt();
    const admitted = OTHERS.filter((id) => bucketOf(half.salt, id) < half.waves.fleet[1]!.threshold!);
    await healthy(admitted);
    await sleep(1_100);
    await healthy(admitted);
    let r = await lab.rollout('promote');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /wave 3 of 3 "everyone" of fleet opens/);
    assert.equal(lab.stateAt().waves.fleet[2]!.threshold, undefined, 'the last wave takes every gateway left');
    const rest = OTHERS.filter((id) => !admitted.includes(id));
    await healthy(rest);
    await sleep(1_100);
    await healthy(rest);
    r = await lab.rollout('promote');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /rollout edge-v2: complete, every gateway runs/);
    const s = lab.stateAt();
    assert.equal(s.state, 'complete');
    assert.deepEqual(
      s.steps.map((x) => x.action),
      ['start', 'open', 'open', 'complete'],
    );
    const log = run('git', ['--git-dir', lab.bare, 'log', '--format=%s', `${target}..main`]).split('\n');
    assert.equal(log.length, 4, 'one commit per step');
    r = await lab.rollout('promote');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /complete: nothing to do/);
    assert.equal(lab.stateAt().steps.length, 4, 'nothing written');
  });

  test('the next rollout starts from the completed one: its target is the base, the salt is new', async () => {
    const previous = lab.stateAt();
    lab.pull();
    const v3 = lab.commitFleet('system v3', (f) => f.replace('LOG_LEVEL: trace', 'LOG_LEVEL: info'));
    const r = await lab.rollout('start', '--target', v3, '--by', 'bob@example.com', '--why', 'release v3');
    assert.equal(r.code, 0, r.err);
    const s = lab.stateAt();
    assert.deepEqual([s.base, s.target, s.state], [target, v3, 'rolling']);
    assert.notEqual(s.salt, previous.salt);
    assert.equal(s.id, `rollout-${v3.slice(0, 12)}`);
    const again = await lab.rollout('start', '--target', v3, '--by', 'bob@example.com', '--why', 'twice');
    assert.equal(again.code, 1);
    assert.match(again.err, /is rolling .*abort it .*or let it complete, before starting another; nothing was written/);
  });
});
