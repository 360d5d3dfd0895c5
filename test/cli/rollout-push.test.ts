// How a rollout step reaches the branch, end to end: a branch that moves under the push is read
// again and the step decided anew (never forced, nothing of the other commit lost), a branch that
// keeps moving gives up with nothing written, a promoter killed before its push has written nothing
// and the next run writes the step once, a hub that cannot be reached writes nothing (exit 1), and a
// local repository — bare, or a checkout of the branch, whose work tree follows — is written in place.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { rollgate } from '../helpers/cli.js';
import { run, tempDir } from '../helpers/fixtures.js';
import { freePort } from '../helpers/hub-lab.js';
import { PromoterLab } from '../helpers/promoter-lab.js';

describe('rollgate rollout: pushes that race, a promoter killed, a hub away, local repositories', () => {
  const lab = new PromoterLab();
  let base = '';
  let target = '';
  let other = '';
  /** Another operator's clone, which pushes straight to the bare repository (not over HTTP). */
  const otherCommit = (n: number) => {
    run('git', ['-C', other, 'pull', '-q', '--ff-only', 'origin', 'main']);
    writeFileSync(join(other, 'NOTES.md'), `note ${n}\n`);
    run('git', ['-C', other, 'add', '-A']);
    run('git', ['-C', other, 'commit', '-q', '-m', `notes ${n}`]);
    run('git', ['-C', other, 'push', '-q', 'origin', 'main']);
    return run('git', ['-C', other, 'rev-parse', 'HEAD']);
  };

  before(async () => {
    await lab.init();
    base = lab.commitFleet('system v1');
    target = lab.commitFleet('system v2', (f) => f.replace('LOG_LEVEL: debug', 'LOG_LEVEL: trace'));
    other = join(tempDir(), 'other');
    run('git', ['clone', '-q', lab.bare, other]);
    const r = await lab.rollout(
      'start',
      '--target',
      target,
      '--base',
      base,
      '--id',
      'edge-v2',
      '--by',
      'a@example.com',
      '--why',
      'release v2',
    );
    assert.equal(r.code, 0, r.err);
  });
  after(() => {
    lab.server.onRequest = undefined;
    return lab.close();
  });

  test('the branch moves under the push: read again, decided anew, pushed on top; nothing lost', async () => {
    let moved = '';
    lab.server.onRequest = (r) => {
      if (moved || !r.path.includes('service=git-receive-pack')) return;
      moved = otherCommit(1);
    };
    const r = await lab.rollout('pause', '--by', 'bob@example.com', '--why', 'hold');
    lab.server.onRequest = undefined;
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /the branch moved from [0-9a-f]{12} while the step was written; reading it again/);
    assert.equal(run('git', ['--git-dir', lab.bare, 'rev-parse', 'main^']), moved, 'on top of the other commit');
    assert.deepEqual(lab.changed(), ['rollgate-rollout.yaml']);
    assert.equal(run('git', ['--git-dir', lab.bare, 'show', 'main:NOTES.md']), 'note 1');
    const s = lab.stateAt();
    assert.equal(s.state, 'paused');
    assert.equal(s.steps.filter((x) => x.action === 'pause').length, 1);
  });

  test('a branch that keeps moving: five tries, then exit 1 with nothing written', async () => {
    let n = 1;
    let last = '';
    lab.server.onRequest = (r) => {
      if (r.path.includes('service=git-receive-pack')) last = otherCommit(++n);
    };
    const r = await lab.rollout('resume', '--by', 'bob@example.com', '--why', 'go');
    lab.server.onRequest = undefined;
    assert.equal(r.code, 1);
    assert.match(r.err, /moved .*5 times: nothing was written/);
    assert.equal(lab.head(), last, 'the branch is where the other operator left it');
    assert.equal(lab.stateAt().state, 'paused');
  });

  test('killed right before its push, it wrote nothing; the next run writes the step once', async () => {
    const head = lab.head();
    const killed = await lab.rolloutWith(
      { ROLLGATE_CRASH_AT: 'promote-push' },
      'resume',
      '--by',
      'bob@example.com',
      '--why',
      'go',
    );
    assert.equal(killed.signal, 'SIGKILL');
    assert.equal(lab.head(), head, 'nothing pushed');
    const r = await lab.rollout('resume', '--by', 'bob@example.com', '--why', 'go');
    assert.equal(r.code, 0, r.err);
    assert.equal(run('git', ['--git-dir', lab.bare, 'rev-parse', 'main^']), head);
    const s = lab.stateAt();
    assert.equal(s.state, 'rolling');
    assert.equal(s.steps.filter((x) => x.action === 'resume').length, 1, 'one resume step');
  });

  test('a hub that cannot be reached: exit 1, nothing written, nothing advances without evidence', async () => {
    const head = lab.head();
    const r = await rollgate(
      'rollout',
      'promote',
      '--repo',
      lab.url,
      '--signing-key',
      lab.keyFile,
      '--hub',
      `http://127.0.0.1:${await freePort()}`,
      '--hub-token-file',
      lab.readerFile,
    );
    assert.equal(r.code, 1);
    assert.match(r.err, /^error: cannot reach the hub at http:\/\/127\.0\.0\.1:\d+: .*; nothing was written\n$/);
    const wrong = join(lab.root, 'wrong.token');
    writeFileSync(wrong, 'rgr_not-a-token\n');
    const w = await rollgate(
      'rollout',
      'promote',
      '--repo',
      lab.url,
      '--signing-key',
      lab.keyFile,
      '--hub',
      lab.hubUrl,
      '--hub-token-file',
      wrong,
    );
    assert.equal(w.code, 1);
    assert.match(w.err, /the hub refused the token in .*wrong\.token \(401/);
    assert.equal(lab.head(), head);
  });

  test("a bare repository on this machine is written in place, under git's lock", async () => {
    const head = lab.head();
    const r = await rollgate(
      'rollout',
      'pause',
      '--repo',
      lab.bare,
      '--signing-key',
      lab.keyFile,
      '--by',
      'erin@example.com',
      '--why',
      'local',
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(run('git', ['--git-dir', lab.bare, 'rev-parse', 'main^']), head);
    assert.equal(lab.stateAt().state, 'paused');
    run('git', ['--git-dir', lab.bare, 'fsck', '--strict']);
  });

  test('a checkout of the branch: its work tree and index follow the commit; local edits are never lost', async () => {
    lab.pull();
    const r = await rollgate(
      'rollout',
      'resume',
      '--repo',
      lab.work,
      '--signing-key',
      lab.keyFile,
      '--by',
      'erin@example.com',
      '--why',
      'local checkout',
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(lab.git('log', '-1', '--format=%s'), 'rollout edge-v2: resumed');
    assert.equal(lab.git('status', '--porcelain'), '', 'the work tree and the index hold the new file');
    writeFileSync(join(lab.work, 'rollgate-rollout.yaml'), 'edited by hand\n');
    const head = lab.git('rev-parse', 'HEAD');
    const e = await rollgate(
      'rollout',
      'pause',
      '--repo',
      lab.work,
      '--signing-key',
      lab.keyFile,
      '--by',
      'erin@example.com',
      '--why',
      'x',
    );
    assert.equal(e.code, 1);
    assert.match(e.err, /rollgate-rollout\.yaml has changes that are not committed: commit or discard them/);
    assert.equal(lab.git('rev-parse', 'HEAD'), head);
    lab.git('checkout', '--', 'rollgate-rollout.yaml');
  });
});
