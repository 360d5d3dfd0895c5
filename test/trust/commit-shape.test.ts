// What a commit is made of, read from a real git repository made by git itself: every path it changes
// against its first parent (in a subdirectory, added, removed, a mode alone), its parents (a root, a
// merge), and who signed it itself with a set of real gpg keys. The promoter key's rule is judged on these.

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { commitShape, readTrustedKeys, signedBy } from '../../src/trust/index.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';
import { gitIn, Keyring, type GpgKey } from '../helpers/signing.js';

describe('commit shape and signer, from git objects', () => {
  const root = tempDir();
  const repo = join(root, 'repo');
  let ring: Keyring;
  let git: ReturnType<typeof gitIn>;
  let promoter: GpgKey;
  let other: GpgKey;
  const commit = (message: string, key?: GpgKey) => {
    git('add', '-A');
    git(
      '-c',
      'user.name=t',
      '-c',
      'user.email=t@example.com',
      ...(key?.gitConfig ?? []),
      'commit',
      '-q',
      '--allow-empty',
      ...(key ? ['-S'] : []),
      '-m',
      message,
    );
    return git('rev-parse', 'HEAD');
  };
  const gitdir = () => join(repo, '.git');

  before(() => {
    ring = new Keyring(join(root, 'keys'));
    promoter = ring.gpgKey('Promoter');
    other = ring.gpgKey('Someone Else');
    mkdirSync(join(repo, 'systems', 'gw'), { recursive: true });
    git = gitIn(repo, ring);
    git('init', '-q', '-b', 'main');
  });
  after(() => cleanup(root));

  test('a root commit: no parent, every file changed', async () => {
    writeFileSync(join(repo, 'rollgate.yaml'), 'a\n');
    writeFileSync(join(repo, 'systems', 'gw', 'manifest.yaml'), 'm\n');
    writeFileSync(join(repo, 'run.sh'), '#!/bin/sh\n');
    const c = commit('root');
    assert.deepEqual(await commitShape(gitdir(), c), {
      parents: [],
      changed: ['rollgate.yaml', 'run.sh', 'systems/gw/manifest.yaml'],
    });
  });

  test('a file in a subdirectory, one added in a new one, one removed: every path', async () => {
    const parent = git('rev-parse', 'HEAD');
    writeFileSync(join(repo, 'systems', 'gw', 'manifest.yaml'), 'm2\n');
    mkdirSync(join(repo, 'new', 'deep'), { recursive: true });
    writeFileSync(join(repo, 'new', 'deep', 'x.sh'), 'x\n');
    rmSync(join(repo, 'rollgate.yaml'));
    const c = commit('three changes');
    assert.deepEqual(await commitShape(gitdir(), c), {
      parents: [parent],
      changed: ['new/deep/x.sh', 'rollgate.yaml', 'systems/gw/manifest.yaml'],
    });
  });

  test('a mode alone is a change: a file made executable', async () => {
    chmodSync(join(repo, 'new', 'deep', 'x.sh'), 0o755);
    const c = commit('chmod');
    assert.deepEqual((await commitShape(gitdir(), c)).changed, ['new/deep/x.sh']);
  });

  test('an empty commit changes nothing; a merge has two parents and is compared with its first', async () => {
    const empty = commit('nothing');
    assert.deepEqual((await commitShape(gitdir(), empty)).changed, []);
    git('checkout', '-q', '-b', 'side');
    writeFileSync(join(repo, 'side.txt'), 's\n');
    const side = commit('side');
    git('checkout', '-q', 'main');
    git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'merge', '-q', '--no-ff', '-m', 'merge', 'side');
    const s = await commitShape(gitdir(), git('rev-parse', 'HEAD'));
    assert.deepEqual(s, { parents: [empty, side], changed: ['side.txt'] });
  });

  test("who signed the commit itself, among the keys given: the promoter's, another's, none", async () => {
    const keys = await readTrustedKeys([promoter.publicFile]);
    writeFileSync(join(repo, 'rollgate-rollout.yaml'), 'x\n');
    const byPromoter = commit('a step', promoter);
    assert.match((await signedBy(gitdir(), byPromoter, keys))!, /^Promoter <promoter@example\.com> \(OpenPGP, /);
    assert.equal(await signedBy(gitdir(), commit('by another', other), keys), undefined);
    assert.equal(await signedBy(gitdir(), commit('unsigned'), keys), undefined);
  });
});
