// The agent's lock, its state file (every wrong shape refused, named and left as it was) and its
// schedule (jitter, backoff).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  rmdirSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { AgentLock, LockedError } from '../../src/agent/lock.js';
import { nextPollDelay, retryDelay } from '../../src/agent/schedule.js';
import { StateFileError, StateStore, STATE_FILE, readAgentState } from '../../src/agent/state.js';
import { CLI } from '../helpers/cli.js';
import { exampleBareRepo } from '../helpers/fixtures.js';
import { tempDirs } from '../helpers/temp-dirs.js';

const dir = tempDirs('rollgate-agent-parts-');

describe('lock, state file, schedule', () => {
  test(
    'a second agent on the same state directory is refused; a lock left by a killed agent is taken ' + 'over',
    async () => {
      const d = dir();
      const lock = await AgentLock.acquire(d);
      await assert.rejects(
        AgentLock.acquire(d),
        (err: Error) =>
          err instanceof LockedError &&
          /another rollgate agent \(pid \d+, since .*\) uses the state directory/.test(err.message),
      );
      await lock.release();
      // A holder that is gone: a real process, started and killed.
      const child = spawn('sleep', ['30']);
      await new Promise((r) => child.once('spawn', r));
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      writeFileSync(
        join(d, 'agent.lock'),
        JSON.stringify({
          pid: child.pid,
          started: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19],
          since: 'then',
        }),
      );
      await assert.rejects(AgentLock.acquire(d), LockedError);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const again = await AgentLock.acquire(d);
      await again.release();
    },
  );

  test(
    'state is written whole; an unreadable state file is an error that says what to do, never silently ' + 'reset',
    async () => {
      const d = dir();
      const s = await StateStore.open(d);
      await s.update((x) => {
        x.lastGood = { commit: 'a'.repeat(40), at: 'now' };
        x.bad.push({ commit: 'b'.repeat(40), kind: 'health-failed', reason: 'api down', at: 'now' });
      });
      assert.equal((await readAgentState(d)).bad[0]!.reason, 'api down');
      writeFileSync(join(d, STATE_FILE), '{"schema":"rollgate.agent-state/v1","bad":[');
      await assert.rejects(
        readAgentState(d),
        (err: Error) =>
          err instanceof StateFileError && /is not valid JSON .* move it aside .* to start afresh/.test(err.message),
      );
      // Valid JSON of the wrong shape (edited by hand): named, with what to do, not a TypeError later.
      for (const [doc, why] of [
        ['{"schema":"rollgate.agent-state/v1","bad":{"commit":"x"}}', /bad is an object, expected a list/],
        [
          '{"schema":"rollgate.agent-state/v1","bad":[{"commit":7}]}',
          /bad\[0\]\.commit is a number \(7\), expected a string/,
        ],
        ['{"schema":"rollgate.agent-state/v1","lastGood":"abc"}', /lastGood is a string \("abc"\), expected an object/],
        ['{"schema":"rollgate.agent-state/v1","history":[null]}', /history\[0\] is null, expected an object/],
      ] as const) {
        writeFileSync(join(d, STATE_FILE), doc);
        await assert.rejects(
          readAgentState(d),
          (err: Error) => err instanceof StateFileError && why.test(err.message) && /move it aside/.test(err.message),
        );
      }
    },
  );

  // Every wrong shape an outsider tried: each names the file and the field, says what to do, and
  // leaves the file as it was (it holds the last good and the bad commits).
  const SCHEMA = '"schema":"rollgate.agent-state/v1"';
  const WRONG_STATES: [string, string, RegExp][] = [
    ['null', 'null', /the file holds null, expected an object/],
    ['a list', '[]', /the file holds a list, expected an object/],
    ['a number', '42', /the file holds a number \(42\), expected an object/],
    ['no schema', '{"applied": 5}', /schema is missing \(expected "rollgate\.agent-state\/v1"\)/],
    ['another schema', '{"schema":"rollgate.agent-state/v9"}', /schema is a string \("rollgate\.agent-state\/v9"\)/],
    ['applied a number', `{${SCHEMA},"applied": 5}`, /applied is a number \(5\), expected an object/],
    ['truncated', `{${SCHEMA},"bad":[{"commit":"ab`, /is not valid JSON/],
    ['empty', '', /is empty/],
    ['bad commits not a list', `{${SCHEMA},"bad":"b0b"}`, /bad is a string \("b0b"\), expected a list/],
    [
      'a bad commit without its kind',
      `{${SCHEMA},"bad":[{"commit":"b0b","reason":"x","at":"t"}]}`,
      /bad\[0\]\.kind is missing/,
    ],
    ['a history entry without its time', `{${SCHEMA},"history":[{"event":"applied"}]}`, /history\[0\]\.at is missing/],
    [
      'history steps not a list',
      `{${SCHEMA},"history":[{"at":"t","event":"applied","steps":5}]}`,
      /history\[0\]\.steps is a number/,
    ],
    [
      'a condition of the wrong shape',
      `{${SCHEMA},"conditions":[{"type":"Ready"}]}`,
      /conditions\[0\]\.status is missing/,
    ],
    [
      'attempts not a number',
      `{${SCHEMA},"inProgress":{"commit":"c","since":"t","attempts":"2"}}`,
      /inProgress\.attempts is a string/,
    ],
    ['lastError of the wrong shape', `{${SCHEMA},"lastError":"boom"}`, /lastError is a string/],
  ];

  test('a state file of any wrong shape names the file and the field, says what to do, is left as it was', async () => {
    for (const [name, doc, why] of WRONG_STATES) {
      const d = dir();
      writeFileSync(join(d, STATE_FILE), doc);
      await assert.rejects(
        readAgentState(d),
        (err: Error) =>
          err instanceof StateFileError &&
          err.message.includes(join(d, STATE_FILE)) &&
          why.test(err.message) &&
          /move it aside/.test(err.message),
        name,
      );
      assert.equal(readFileSync(join(d, STATE_FILE), 'utf8'), doc, `${name}: the file is left as it was`);
    }
  });

  test('what a damaged state file still names (applied, last good, bad commits) is in the error', async () => {
    const d = dir();
    const [a, g, b] = ['a', 'b', 'c'].map((x) => x.repeat(40));
    writeFileSync(
      join(d, STATE_FILE),
      JSON.stringify({
        schema: 'rollgate.agent-state/v1',
        applied: { commit: a, at: 't' },
        lastGood: { commit: g, at: 't' },
        bad: [{ commit: b, kind: 'health-failed', reason: 'x', at: 't' }],
        history: 'lost',
      }),
    );
    await assert.rejects(readAgentState(d), (err: Error) =>
      err.message.includes(`applied ${a}; last good ${g}; bad ${b}`),
    );
  });

  test('a state file that is a symlink, a directory, a FIFO or huge is refused without being read', async () => {
    const d = dir();
    const f = join(d, STATE_FILE);
    symlinkSync('/dev/zero', f);
    await assert.rejects(readAgentState(d), /is a symbolic link \(to \/dev\/zero\)/);
    unlinkSync(f);
    mkdirSync(f);
    await assert.rejects(readAgentState(d), /is a directory/);
    rmdirSync(f);
    spawnSync('mkfifo', [f]);
    await assert.rejects(readAgentState(d), /is a FIFO/, 'a FIFO is refused, not waited on');
    unlinkSync(f);
    writeFileSync(f, '');
    truncateSync(f, 100 * 1024 * 1024);
    await assert.rejects(readAgentState(d), /is 104857600 bytes, more than the \d+ rollgate ever writes there/);
  });

  test('the agent does not start on a state file or journal of the wrong shape, and leaves it as it was', async () => {
    const cases: [string, string, RegExp][] = [
      [STATE_FILE, 'null', /agent-state\.json: the file holds null/],
      [STATE_FILE, `{${SCHEMA},"bad":[{"commit":"b0b"}]}`, /agent-state\.json: bad\[0\]\.kind is missing/],
      ['journal.json', 'null', /journal\.json is damaged: the file holds null/],
      ['journal.json', '{"schema":"rollgate.journal/v1","txn":7}', /journal\.json is damaged: txn is a number/],
    ];
    const { gitdir } = exampleBareRepo(dir());
    for (const [file, doc, why] of cases) {
      const d = dir();
      writeFileSync(join(d, file), doc);
      const r = spawnSync(
        process.execPath,
        [CLI, 'agent', '--config', '/dev/null', '--state-dir', d, '--repo', gitdir, '--id', 'gw'].concat([
          '--metrics-listen',
          'off',
        ]),
        { encoding: 'utf8', timeout: 30_000 },
      );
      const out = r.stdout + r.stderr;
      assert.equal(r.status, 1, out);
      assert.ok(out.includes(join(d, file)), `names the file: ${out}`);
      assert.match(out, why);
      assert.doesNotMatch(out, /TypeError|Cannot read properties/);
      assert.equal(readFileSync(join(d, file), 'utf8'), doc, 'left as it was');
      assert.equal(existsSync(join(d, 'agent.lock')), false, 'the lock is released');
    }
  });

  test('polls are spread by jitter; retries back off up to the schedule', () => {
    assert.equal(
      nextPollDelay({ intervalMs: 60_000, jitterMs: 10_000 }, () => 0),
      60_000,
    );
    assert.equal(
      nextPollDelay({ intervalMs: 60_000, jitterMs: 10_000 }, () => 0.5),
      65_000,
    );
    const cron = nextPollDelay({ intervalMs: 0, cron: '*/5 * * * * *', jitterMs: 0 }, () => 0);
    assert.ok(cron <= 5_000, `every 5 s: next within 5 s, got ${cron}`);
    // Five fields are minutes first, in local time: 03:00 tomorrow or today, never later than a day.
    const daily = nextPollDelay({ intervalMs: 0, cron: '0 3 * * *', jitterMs: 0 }, () => 0);
    const at = new Date(Date.now() + daily);
    assert.ok(daily > 0 && daily <= 86_400_000, `daily: next within a day, got ${daily}`);
    assert.deepEqual([at.getHours(), at.getMinutes()], [3, 0], `due at ${at.toString()}`);
    assert.deepEqual(
      [1, 2, 3, 6].map((n) => retryDelay(30_000, n, 300_000)),
      [30_000, 60_000, 120_000, 300_000],
    );
  });
});
