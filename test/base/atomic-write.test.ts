// Atomic writes: a full disk (ENOSPC, from /dev/full) is an error that names the file and says
// what is wrong, and the file keeps its old content.

import assert from 'node:assert/strict';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { WriteError, writeFileAtomic } from '../../src/base/atomic-write.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';

describe('atomic writes', () => {
  test('a full disk names the file, says the disk is full, and leaves the old content', async () => {
    const dir = tempDir('rollgate-atomic-');
    try {
      const file = join(dir, 'agent-state.json');
      writeFileSync(file, 'old\n');
      // Where the write goes first, /dev/full answers every write with ENOSPC.
      symlinkSync('/dev/full', `${file}.${process.pid}.tmp`);
      const err = await writeFileAtomic(file, 'new\n').then(
        () => assert.fail('written'),
        (e: unknown) => e as WriteError,
      );
      assert.ok(err instanceof WriteError);
      assert.equal(err.code, 'ENOSPC');
      assert.match(err.message, new RegExp(`cannot write ${file}: no space left on the device`));
      assert.equal(readFileSync(file, 'utf8'), 'old\n');
      await writeFileAtomic(file, 'new\n');
      assert.equal(readFileSync(file, 'utf8'), 'new\n', 'the next write, with room, goes through');
    } finally {
      cleanup(dir);
    }
  });
});
