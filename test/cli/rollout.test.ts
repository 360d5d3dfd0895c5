// `rollgate rollout explain` end to end: the built command, as a separate process, on a real git
// repository of fleet-repo-example (its rollout policy: a canary wave by label, then percent
// waves) with a rollout state committed on top, read from a local path and through a real
// `git http-backend`.

import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Admission } from '../../src/model/rollout.js';
import { rollgate } from '../helpers/cli.js';
import { cleanup, projectRoot, run, tempDir } from '../helpers/fixtures.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';

interface Explained {
  gateway: { id: string; labels: Record<string, string> };
  head: string;
  fleetTarget: string | null;
  rollout: null | {
    id: string;
    state: string;
    base: string;
    target: string;
    track: string;
    waves: { number: number; name: string; open: boolean; percent?: number }[];
  };
  wave: null | (NonNullable<Admission['wave']> & { number: number });
  admitted: boolean;
  runs: Admission['runs'];
  reason: Admission['reason'];
}

const state = (base: string, target: string, extra = '', st = 'rolling') =>
  `apiVersion: rollgate/v1\nkind: Rollout\nid: edge-v2\nsalt: 7d3f9a21\nbase: ${base}\ntarget: ${target}\n` +
  `state: ${st}\nwaves:\n  fleet:\n    - { opened: 2026-11-03T10:00:00Z }\n${extra}` +
  'steps:\n  - { at: 2026-11-03T10:00:00Z, by: ops@example.com, action: start, why: release v2, wave: 0 }\n';

describe('rollgate rollout explain', () => {
  let root: string;
  let work: string;
  let base: string;
  let target: string;
  let server: GitServer;
  const git = (...args: string[]) => run('git', args, work);
  const commit = (message: string) => {
    git('add', '-A');
    git('commit', '-q', '-m', message);
    return git('rev-parse', 'HEAD');
  };
  /** A branch off main with rollgate-rollout.yaml replaced. */
  const branch = (name: string, text: string) => {
    git('checkout', '-q', '-b', name, 'main');
    writeFileSync(join(work, 'rollgate-rollout.yaml'), text);
    commit(`rollout: ${name}`);
    git('checkout', '-q', 'main');
  };
  const explain = async (...args: string[]) => {
    const r = await rollgate('rollout', 'explain', '--output', 'json', ...args);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as Explained;
  };

  before(async () => {
    root = tempDir();
    work = join(root, 'work');
    cpSync(join(projectRoot, 'fleet-repo-example'), work, { recursive: true });
    run('git', ['init', '-q', '-b', 'main', work]);
    base = commit('system v1');
    const fleet = join(work, 'rollgate.yaml');
    writeFileSync(fleet, readFileSync(fleet, 'utf8').replace('LOG_LEVEL: debug', 'LOG_LEVEL: trace'));
    target = commit('system v2');
    writeFileSync(join(work, 'rollgate-rollout.yaml'), state(base, target));
    commit('rollout edge-v2: start, canary wave open');
    branch(
      'aborted',
      state(base, target, `bad:\n  - { commit: ${target}, rollout: edge-v2, reason: api down }\n`, 'aborted'),
    );
    branch('bad-target', state(base, target, `bad:\n  - { commit: ${target}, reason: api down }\n`));
    branch(
      'threshold-on-canary',
      state(base, target).replace(
        '{ opened: 2026-11-03T10:00:00Z }',
        '{ opened: 2026-11-03T10:00:00Z, threshold: 0.5 }',
      ),
    );
    branch('lost-target', state(base, 'e'.repeat(40)));
    run('git', ['clone', '-q', '--bare', work, join(root, 'fleet.git')]);
    server = await startGitServer(root);
  });
  after(async () => {
    await server.close();
    cleanup(root);
  });

  test('a canary (by label) is admitted: it runs the target', async () => {
    const e = await explain('--repo', work, '--id', 'gw-0042', '--label', 'role=gateway', '--label', 'ring=canary');
    assert.equal(e.admitted, true);
    assert.deepEqual(e.runs, { commit: target, as: 'target' });
    assert.equal(e.reason.code, 'admitted');
    assert.deepEqual(
      [e.wave?.name, e.wave?.number, e.wave?.of, e.wave?.by, e.wave?.open],
      ['canary', 1, 4, 'match', true],
    );
    assert.equal(e.fleetTarget, 'gateways');
    assert.deepEqual(
      e.rollout?.waves.map((w) => [w.name, w.open]),
      [
        ['canary', true],
        ['early', false],
        ['half', false],
        ['everyone', false],
      ],
    );
    assert.deepEqual(
      [e.rollout?.id, e.rollout?.state, e.rollout?.base, e.rollout?.target],
      ['edge-v2', 'rolling', base, target],
    );
    assert.equal(e.head, git('rev-parse', 'main'));
  });

  test('any other gateway is not yet admitted: it runs the base, and says which wave it waits for', async () => {
    const e = await explain('--repo', work, '--id', 'gw-0042', '--label', 'role=gateway');
    assert.equal(e.admitted, false);
    assert.deepEqual(e.runs, { commit: base, as: 'base' });
    assert.equal(e.reason.code, 'not-yet');
    assert.equal(e.wave?.by, 'percent');
    assert.ok(e.wave!.bucket! < e.wave!.threshold!);
    assert.match(e.reason.message, new RegExp(`wave ${e.wave!.number} of 4 "${e.wave!.name}" opens once`));
  });

  test('the same, for people', async () => {
    const r = await rollgate('rollout', 'explain', '--repo', work, '--id', 'gw-0042', '--label', 'role=gateway');
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      new RegExp(
        `^Rollout edge-v2 \\(rolling\\) at main [0-9a-f]{12}: ` +
          `base ${base.slice(0, 12)}, target ${target.slice(0, 12)}\n`,
      ),
    );
    assert.match(
      r.out,
      /waves of the fleet policy \(target's rollgate\.yaml\): 1 canary \(open\), 2 early, 3 half, 4 everyone/,
    );
    assert.match(r.out, /^Gateway gw-0042 \(role=gateway\), fleet target "gateways"$/m);
    assert.match(r.out, /^ {2}wave {6}\d of 4 "\w+": its bucket 0\.\d{6} is under this wave's threshold [01]\.?\d*/m);
    assert.match(r.out, /^ {2}admitted {2}no$/m);
    assert.match(r.out, new RegExp(`^  runs      ${base.slice(0, 12)} \\(the base\\)$`, 'm'));
    assert.match(r.out, /^ {2}reason {4}not yet: wave \d of 4/m);
  });

  test('before the rollout was started (main~1): the branch head, as without a policy', async () => {
    const e = await explain('--repo', work, '--ref', 'main~1', '--id', 'gw-0042', '--label', 'ring=canary');
    assert.equal(e.rollout, null);
    assert.equal(e.wave, null);
    assert.equal(e.admitted, true);
    assert.deepEqual(e.runs, { commit: target, as: 'head' });
    assert.equal(e.reason.code, 'no-rollout');
  });

  test('after an abort, the canary that ran the target runs the base', async () => {
    const e = await explain('--repo', work, '--ref', 'aborted', '--id', 'gw-0042', '--label', 'ring=canary');
    assert.equal(e.admitted, false);
    assert.deepEqual(e.runs, { commit: base, as: 'base' });
    assert.equal(e.reason.code, 'aborted');
    assert.match(e.reason.message, /is bad and is never tried again/);
  });

  test('through a git server: the same answer as from the local repository', async () => {
    const args = ['--id', 'gw-0042', '--label', 'role=gateway'];
    const local = await explain('--repo', work, ...args);
    const remote = await explain('--repo', server.url('fleet.git'), ...args);
    assert.deepEqual(remote, local);
  });

  const refused: [string, string[], RegExp][] = [
    [
      'a rollout of a bad commit, at the file, line and column',
      ['--ref', 'bad-target'],
      new RegExp(
        'error: the fleet repo is invalid, so the rollout cannot be explained\n' +
          '  rollgate-rollout\\.yaml:6:9: target [0-9a-f]{12} is a bad commit',
      ),
    ],
    [
      "a state that does not fit the target's policy",
      ['--ref', 'threshold-on-canary'],
      /rollgate-rollout\.yaml:10:\d+: wave 1 \("canary"\) is chosen by match: it has no threshold/,
    ],
    [
      'a target that is not in the repository',
      ['--ref', 'lost-target'],
      new RegExp(
        "error: the rollout's target e{12} \\(rollgate-rollout\\.yaml at lost-target\\) cannot be read from " +
          ".*It must be a commit of the branch's history",
      ),
    ],
    [
      'a directory that is not a git repository',
      ['--repo', join(projectRoot, 'fleet-repo-example')],
      /is not a git repository: rollout explain reads commits/,
    ],
    ['no gateway id', ['--id', ''], /a gateway identity is needed: --id/],
  ];
  for (const [name, args, err] of refused)
    test(`refused, exit 1: ${name}`, async () => {
      const r = await rollgate('rollout', 'explain', '--repo', work, '--id', 'gw-0042', ...args);
      assert.equal(r.code, 1, r.out);
      assert.match(r.err, err);
      assert.equal(r.out, '');
    });
});
