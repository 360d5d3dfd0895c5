// What a killed rollgate left running, found from its record in the state directory and ended at
// the next start — and everything such a record must never make rollgate signal: pid 1, itself,
// an unrelated process, a reused pid, a process a damaged or hand-made file names. Real processes.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { endLeftoverGroups, GROUP_TOKEN_ENV } from '../../src/base/process-group.js';
import { groupMembers, startTime } from '../../src/base/proc.js';
import type { Log } from '../../src/base/log.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';
import { running } from '../helpers/proc.js';

const dirs: string[] = [];
const started: number[] = [];
after(() => {
  for (const pid of started)
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // ended by the test
    }
  dirs.forEach(cleanup);
});

function stateDir(): string {
  const d = tempDir('rollgate-processes-');
  dirs.push(d);
  mkdirSync(join(d, 'processes'));
  return d;
}

function recorder(): Log & { warnings: string[] } {
  const warnings: string[] = [];
  const none = () => {};
  return { warnings, debug: none, info: none, error: none, warn: (_o, msg) => void warnings.push(msg) };
}

const alive = running;

/** A group as an interface leaves it: a leader hung in its state and a child of its own, both with the token. */
async function leftGroup(token: string | undefined): Promise<{ leader: number; child: number }> {
  const p = spawn('sh', ['-c', 'sleep 1000 & echo $!; exec sleep 1000'], {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, ...(token ? { [GROUP_TOKEN_ENV]: token } : {}) },
  });
  const child = await new Promise<number>((r) => p.stdout.once('data', (b: Buffer) => r(Number(String(b).trim()))));
  p.stdout.destroy();
  p.unref();
  started.push(p.pid!, child);
  return { leader: p.pid!, child };
}

/** The pid of a process that has ended: a rollgate that was killed. */
function deadPid(): number {
  return spawnSync('true').pid;
}

function record(dir: string, owner: { pid: number; started: string }, groups: object[]): string {
  const file = join(dir, 'processes', `${owner.pid}.json`);
  writeFileSync(file, JSON.stringify({ schema: 'rollgate.processes/v1', ...owner, groups }));
  return file;
}

const group = (pgid: number, token: string, over: object = {}) => ({
  pgid,
  started: startTime(pgid),
  token,
  what: '"rtos" (R456) Download',
  since: 'then',
  ...over,
});

describe('processes a killed rollgate left running', () => {
  test('its group (the hung leader and the child holding its output) is ended, and its record removed', async () => {
    const d = stateDir();
    const g = await leftGroup('t-left');
    const file = record(d, { pid: deadPid(), started: '1' }, [group(g.leader, 't-left')]);
    const log = recorder();
    const ended = await endLeftoverGroups(d, 2_000, log);
    assert.deepEqual(ended.sort(), [g.leader, g.child].sort());
    for (let i = 0; i < 50 && (alive(g.leader) || alive(g.child)); i++) await sleep(50);
    assert.deepEqual(groupMembers(g.leader), [], 'no process of the group remains');
    assert.equal(existsSync(file), false);
    assert.match(log.warnings.join('\n'), /"rtos" \(R456\) Download, started then by rollgate pid \d+, which is gone/);
  });

  test('killed between writing the record and starting the process: found by its token alone', async () => {
    const d = stateDir();
    const g = await leftGroup('t-early');
    const other = await leftGroup('t-other');
    record(d, { pid: deadPid(), started: '1' }, [{ token: 't-early', what: 'x', since: 'then' }]);
    const ended = await endLeftoverGroups(d, 2_000, recorder());
    assert.deepEqual(ended.sort(), [g.leader, g.child].sort());
    assert.ok(alive(other.leader) && alive(other.child), 'a group with another token is not touched');
  });

  test('what a live rollgate (a rollgate diff beside the agent) runs is left alone', async () => {
    const d = stateDir();
    const owner = await leftGroup(undefined);
    const g = await leftGroup('t-live');
    const file = record(d, { pid: owner.leader, started: startTime(owner.leader)! }, [group(g.leader, 't-live')]);
    assert.deepEqual(await endLeftoverGroups(d, 500, recorder()), []);
    assert.ok(alive(g.leader) && alive(g.child));
    assert.ok(existsSync(file));
  });

  test('pid 1, rollgate itself, an unrelated process and a reused pid are never signalled', async () => {
    const d = stateDir();
    const unrelated = await leftGroup(undefined); // its own group, without any token
    const reused = await leftGroup('t-reused');
    const file = record(d, { pid: deadPid(), started: '1' }, [
      group(1, 't-one'),
      group(process.pid, 't-me'),
      group(unrelated.leader, 't-unrelated'),
      // The pid of a group that is gone, now another process's: another start time.
      group(reused.leader, 't-reused', { started: '12' }),
      group(-5, 't-negative'),
    ]);
    assert.deepEqual(await endLeftoverGroups(d, 500, recorder()), []);
    for (const pid of [unrelated.leader, unrelated.child, reused.leader, reused.child])
      assert.ok(alive(pid), `${pid} still runs`);
    assert.equal(existsSync(file), false, 'the stale record is removed');
  });

  test(
    'a record that is not one (damaged, edited, a symlink, huge) is moved aside, ' + 'nothing it names signalled',
    async () => {
      const d = stateDir();
      const g = await leftGroup('t-damaged');
      const dir = join(d, 'processes');
      writeFileSync(join(dir, '101.json'), 'null');
      writeFileSync(
        join(dir, '102.json'),
        JSON.stringify({
          schema: 'rollgate.processes/v1',
          pid: 102,
          started: '1',
          groups: [{ pgid: String(g.leader) }],
        }),
      );
      writeFileSync(join(dir, '103.json'), '{"schema":"rollgate.processes/v1","pid":103,"groups":[');
      symlinkSync('/dev/zero', join(dir, '104.json'));
      writeFileSync(join(dir, '105.json'), '');
      truncateSync(join(dir, '105.json'), 50 * 1024 * 1024);
      const log = recorder();
      assert.deepEqual(await endLeftoverGroups(d, 500, log), []);
      assert.ok(alive(g.leader) && alive(g.child));
      for (const n of ['101', '102', '103', '104', '105']) {
        assert.ok(existsSync(join(dir, `${n}.json.broken`)), `${n} is kept aside`);
        assert.equal(existsSync(join(dir, `${n}.json`)), false);
      }
      const said = log.warnings.join('\n');
      assert.match(said, /101\.json is not a record of rollgate's processes \(the file holds null/);
      assert.match(said, /102\.json .*groups\[0\]\.pgid is a string/);
      assert.match(said, /104\.json .*is a symbolic link/);
      assert.match(said, /105\.json .*52428800 bytes/);
    },
  );
});
