// The state directory: made private, refused when others can write to it, and swept of the
// half-written files a crash leaves.

import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { removeLeftoverTempFiles, secureStateDir } from '../../src/base/state-dir.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';

describe('the state directory', () => {
  test('made 0700; refused when others can write to it; half-written files from a crash are swept', async () => {
    const root = tempDir('rollgate-statedir-');
    try {
      const dir = join(root, 'state');
      await secureStateDir(dir);
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      chmodSync(dir, 0o777);
      await assert.rejects(secureStateDir(dir), /can be written by others \(mode 777\).*chmod 700/);
      chmodSync(dir, 0o755);
      await secureStateDir(dir);
      mkdirSync(join(dir, 'components', 'G13'), { recursive: true });
      mkdirSync(join(dir, 'data', 'app'), { recursive: true });
      for (const f of ['agent-state.json.4242.tmp', 'components/G13/record.json.99.tmp', 'data/app/db.1.tmp'])
        writeFileSync(join(dir, f), 'half');
      const removed = await removeLeftoverTempFiles(dir);
      assert.deepEqual(removed.map((p) => p.slice(dir.length + 1)).sort(), [
        'agent-state.json.4242.tmp',
        'components/G13/record.json.99.tmp',
      ]);
      assert.ok(existsSync(join(dir, 'data/app/db.1.tmp')), "an app's data is not touched");
    } finally {
      cleanup(root);
    }
  });
});
