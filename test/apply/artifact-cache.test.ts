// The artifact cache: bounded in size, least recently used out first, never what is in use,
// and a cached copy damaged since is fetched again.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { ArtifactCache } from '../../src/apply/index.js';
import { silentLog } from '../../src/base/log.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';

describe('artifact cache', () => {
  const dir = tempDir('rollgate-cache-');
  after(() => cleanup(dir));
  const blob = (c: string) => new TextEncoder().encode(c.repeat(1000));

  test('over its size, the least recently used artifact goes; one in use stays', async () => {
    const cache = new ArtifactCache(dir, 2500, silentLog);
    const a = await cache.fromBytes(blob('a'), 'a');
    const b = await cache.fromBytes(blob('b'), 'b');
    cache.unpinAll();
    await new Promise((r) => setTimeout(r, 20));
    await cache.fromBytes(blob('a'), 'a'); // a used again: b is now the oldest
    cache.unpinAll();
    const c = await cache.fromBytes(blob('c'), 'c');
    assert.ok(existsSync(a.path) && existsSync(c.path));
    assert.equal(existsSync(b.path), false);
    // Everything pinned: the cache may go over its size rather than drop what an apply uses.
    const d = await cache.fromBytes(blob('d'), 'd');
    assert.ok(existsSync(c.path) && existsSync(d.path));
  });

  test('a sha256 the manifest gives must match', async () => {
    const cache = new ArtifactCache(dir, 1 << 20, silentLog);
    await assert.rejects(
      cache.fromBytes(blob('x'), 'artifacts/x.mender', '00'.repeat(32)),
      /artifacts\/x\.mender has sha256 [0-9a-f]{64}, but the manifest says 0{64}/,
    );
  });

  test('a cached copy that no longer matches its sum is replaced', async () => {
    const cache = new ArtifactCache(dir, 1 << 20, silentLog);
    const e = await cache.fromBytes(blob('e'), 'e');
    writeFileSync(e.path, 'tampered');
    const again = await cache.fromBytes(blob('e'), 'e');
    assert.equal(again.sha256, e.sha256);
    assert.equal(readFileSync(again.path).length, 1000);
  });
});
