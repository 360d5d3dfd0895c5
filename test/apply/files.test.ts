// The files directory's modes on the host (src/apply/docker/files.ts), read back from a real file
// system: plaintext secrets (a Compose `secrets:` file, a decrypted SOPS file) are root's alone —
// 0600 files in 0700 directories, whatever the umask — and other repo files keep git's mode.

import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeTree } from '../../src/apply/docker/files.js';
import type { FileTree } from '../../src/model/index.js';
import { tempDirs } from '../helpers/temp-dirs.js';

const dirs = tempDirs('rollgate-files-');
const modeOf = (p: string) => statSync(p).mode & 0o777;
const b64 = (s: string) => Buffer.from(s).toString('base64');

function tree(hash: string, secret: boolean): FileTree {
  return {
    hash,
    kind: 'dir',
    ...(secret ? { secret: true } : {}),
    entries: [
      { path: 'db.pass', mode: 0o644, base64: b64('hunter2') },
      { path: 'tls/deep/key.pem', mode: 0o755, base64: b64('-----BEGIN KEY-----') },
    ],
  };
}

test('a secret tree: 0600 files and 0700 directories, down to the deepest, whatever the umask', async () => {
  const root = join(dirs(), 'files');
  const old = process.umask(0o000); // a permissive umask must not open them up
  try {
    assert.equal(await writeTree(root, 'web', tree('a'.repeat(64), true)), true);
  } finally {
    process.umask(old);
  }
  const at = join(root, 'web', 'a'.repeat(64));
  assert.equal(modeOf(root), 0o700, 'the files directory');
  assert.equal(modeOf(join(root, 'web')), 0o700, "the app's directory");
  assert.equal(modeOf(at), 0o700, "the tree's own directory");
  assert.equal(modeOf(join(at, 'tls')), 0o700);
  assert.equal(modeOf(join(at, 'tls/deep')), 0o700);
  assert.equal(modeOf(join(at, 'db.pass')), 0o600, 'a secret file is not world-readable (it was 0444)');
  assert.equal(modeOf(join(at, 'tls/deep/key.pem')), 0o600, "git's executable bit does not open a secret");
});

test('a tree that holds no secret keeps the modes git gave its files, in directories anyone may enter', async () => {
  const root = join(dirs(), 'files');
  const old = process.umask(0o077); // a strict umask must not close what a container's user reads
  try {
    await writeTree(root, 'web', tree('b'.repeat(64), false));
  } finally {
    process.umask(old);
  }
  const at = join(root, 'web', 'b'.repeat(64));
  assert.equal(modeOf(at), 0o755);
  assert.equal(modeOf(join(at, 'tls/deep')), 0o755);
  assert.equal(modeOf(join(at, 'db.pass')), 0o644);
  assert.equal(modeOf(join(at, 'tls/deep/key.pem')), 0o755);
});
