// Where the processes of a container's orphaned task are looked for: only ever that container's own
// cgroup, whatever its id or cgroup parent say. Pure: no Engine, no process.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cgroupProcFiles } from '../../src/apply/docker/orphan-task.js';

const ID = 'ab'.repeat(32);

describe('the cgroup of an orphaned task, as a table', () => {
  const rows: [string, string, string | undefined, string | undefined][] = [
    ['the default parent', ID, undefined, `/sys/fs/cgroup/docker/${ID}/cgroup.procs`],
    ['a cgroup_parent of the Compose file', ID, '/edge/', `/sys/fs/cgroup/edge/${ID}/cgroup.procs`],
    ['a nested cgroup_parent', ID, 'a/b', `/sys/fs/cgroup/a/b/${ID}/cgroup.procs`],
    ['a parent that climbs out', ID, '../../etc', undefined],
    ['a parent with a dot segment', ID, 'a/./b', undefined],
    ['a parent with odd characters', ID, 'a b;c', undefined],
    ['an id that is not a full container id', 'abc', undefined, undefined],
    ['an id with a path in it', `../${ID}`, undefined, undefined],
  ];
  for (const [name, id, parent, first] of rows)
    test(name, () => {
      const files = cgroupProcFiles(id, parent);
      assert.equal(files?.[0], first);
      for (const f of files ?? []) {
        assert.ok(f.startsWith('/sys/fs/cgroup/') && f.endsWith('/cgroup.procs') && f.includes(id), f);
        assert.ok(!f.split('/').includes('..'));
      }
    });
});
