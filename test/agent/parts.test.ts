// The agent's parts on their own: configuration (file, environment, flags), the health window
// against real servers and commands, the lock, the state file, the schedule, and the systemd unit.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer as httpServer, type Server } from 'node:http';
import { createServer as tcpServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadAgentConfig, SETTINGS } from '../../src/agent/config.js';
import { AgentLock, LockedError } from '../../src/agent/lock.js';
import { nextPollDelay, retryDelay } from '../../src/agent/schedule.js';
import { StateFileError, StateStore, STATE_FILE, readAgentState } from '../../src/agent/state.js';
import { healthWindow } from '../../src/health/index.js';
import type { HealthCheck, HealthSpec } from '../../src/model/index.js';
import { silentLog } from '../../src/base/log.js';
import { CLI, rollgate } from '../helpers/cli.js';
import { verifyUnit } from '../helpers/systemd-unit.js';
import { cleanup, exampleBareRepo, projectRoot, tempDir } from '../helpers/fixtures.js';

const dirs: string[] = [];
const dir = () => {
  const d = tempDir('rollgate-agent-parts-');
  dirs.push(d);
  return d;
};
after(() => dirs.forEach(cleanup));

describe('agent configuration', () => {
  const load = (
    file: string | undefined = '/dev/null',
    env: NodeJS.ProcessEnv = {},
    flags: Record<string, unknown> = {},
    requireAll = true,
  ) => loadAgentConfig({ ...(file ? { file } : {}), env, flags, requireAll });

  test('file, then environment, then flags; defaults fill the rest; the source of each value is known', async () => {
    const d = dir();
    const f = join(d, 'config.yaml');
    writeFileSync(
      f,
      'repo:\n  url: https://git.example.com/fleet.git\n  ref: stable\ngateway:\n  id: gw-file\n  labels: { ' +
        'site: berlin }\nschedule:\n  interval: 5m\n  jitter: 1m\n',
    );
    const { config, sources } = await load(
      f,
      { ROLLGATE_INTERVAL: '2m', ROLLGATE_GATEWAY_LABELS: 'site=paris,role=gateway' },
      { id: 'gw-flag' },
    );
    assert.equal(config.repo.url, 'https://git.example.com/fleet.git');
    assert.equal(config.repo.ref, 'stable');
    assert.equal(config.gateway.id, 'gw-flag');
    assert.deepEqual(config.gateway.labels, { site: 'paris', role: 'gateway' });
    assert.equal(config.schedule.interval, '2m');
    assert.equal(config.schedule.jitter, '1m');
    assert.equal(config.stateDir, '/var/lib/rollgate');
    assert.equal(config.metrics.listen, '127.0.0.1:9475');
    assert.deepEqual(
      [sources['gateway.id'], sources['schedule.interval'], sources['schedule.jitter'], sources['stateDir']],
      ['flag', 'env', 'file', 'default'],
    );
  });

  test("systemd's STATE_DIRECTORY is the state directory when nothing else sets it", async () => {
    const { config, sources } = await load(
      '/dev/null',
      { STATE_DIRECTORY: '/var/lib/rollgate-unit' },
      { repo: '/srv/fleet', id: 'gw' },
    );
    assert.equal(config.stateDir, '/var/lib/rollgate-unit');
    assert.equal(sources['stateDir'], 'systemd');
  });

  test('a bad file is rejected with file:line:column and what was expected', async () => {
    const d = dir();
    const f = join(d, 'config.yaml');
    writeFileSync(
      f,
      'repo:\n  url: /srv/fleet\ngateway:\n  id: gw\nschedule:\n  interval: every five minutes\n  jiter: ' +
        '10s\nmetrics:\n  listen: 0.0.0.0:9475\n',
    );
    await assert.rejects(load(f), (err: Error) => {
      assert.match(
        err.message,
        /config\.yaml:6:\d+: expected a duration like 500ms, 30s, 5m or 1m30s, got string "every five minutes"/,
      );
      assert.match(
        err.message,
        new RegExp(
          String.raw`config\.yaml:7:\d+: unsupported key "jiter" \(expected one of: interval, cron, jit` +
            String.raw`ter, watch, driftCheck, retry\)`,
        ),
      );
      assert.match(
        err.message,
        new RegExp(
          String.raw`config\.yaml:9:\d+: expected "off", or a loopback address with a port such as 127` +
            String.raw`\.0\.0\.1:9475, got string "0\.0\.0\.0:9475"`,
        ),
      );
      return true;
    });
  });

  test('bad environment values and flags name the variable or flag; required keys say where to set them', async () => {
    await assert.rejects(
      load(undefined, { ROLLGATE_INTERVAL: 'soon' }, { repo: '/srv', id: 'gw' }),
      /ROLLGATE_INTERVAL: expected a duration like 30s, 5m or 1h, got "soon"/,
    );
    await assert.rejects(
      load(undefined, { ROLLGATE_WATCH: 'maybe' }, { repo: '/srv', id: 'gw' }),
      /ROLLGATE_WATCH=maybe: expected true or false/,
    );
    await assert.rejects(
      load(undefined, {}, { repo: '/srv', id: 'gw', concurrency: 'lots' }),
      /--concurrency: expected a whole number, got "lots"/,
    );
    await assert.rejects(
      load(undefined, {}, { repo: '/srv', id: 'gw', cron: '61 * * * *' }),
      /schedule\.cron \(flag\): "61 \* \* \* \*" is not a cron expression/,
    );
    await assert.rejects(
      load(undefined, {}, {}),
      new RegExp(
        String.raw`the agent needs repo\.url and gateway\.id; set repo\.url in \S+, ROLLGATE_REPO or --` +
          String.raw`repo; and gateway\.id in .*ROLLGATE_GATEWAY_ID or --id`,
      ),
    );
    await assert.rejects(
      load('/nonexistent/config.yaml'),
      /cannot read the configuration file \/nonexistent\/config\.yaml: it does not exist/,
    );
    // Commands that only need the state directory do not need the rest.
    assert.equal((await load(undefined, { ROLLGATE_STATE_DIR: '/tmp/x' }, {}, false)).config.stateDir, '/tmp/x');
  });

  test(
    'per-state interface timeouts come from the file, the environment or flags; a name outside the protocol ' +
      'is refused at its line',
    async () => {
      const d = dir();
      const f = join(d, 'config.yaml');
      writeFileSync(
        f,
        'repo: { url: /srv/fleet }\ngateway: { id: gw }\ninterfaces:\n  stateTimeouts:\n    Download: 30m\n    ' +
          'ArtifactInstal: 2h\n',
      );
      await assert.rejects(
        load(f),
        new RegExp(
          String.raw`config\.yaml:6:5: unsupported key "ArtifactInstal" \(expected one of: Download, Down` +
            String.raw`loadWithFileSizes, ArtifactInstall,`,
        ),
      );
      writeFileSync(
        f,
        'repo: { url: /srv/fleet }\ngateway: { id: gw }\ninterfaces:\n  stateTimeouts:\n    Download: 30m\n',
      );
      assert.deepEqual((await load(f)).config.interfaces.stateTimeouts, { Download: '30m' });
      assert.deepEqual(
        (await load(f, { ROLLGATE_INTERFACE_STATE_TIMEOUTS: 'ArtifactInstall=2h,Provides=10s' })).config.interfaces
          .stateTimeouts,
        { ArtifactInstall: '2h', Provides: '10s' },
      );
      assert.deepEqual((await load(f, {}, { interfaceStateTimeout: ['Cleanup=1m'] })).config.interfaces.stateTimeouts, {
        Cleanup: '1m',
      });
      await assert.rejects(
        load(f, { ROLLGATE_INTERFACE_STATE_TIMEOUTS: 'Install=2h' }),
        /ROLLGATE_INTERFACE_STATE_TIMEOUTS: expected State=duration pairs .* got \{"Install":"2h"\}/,
      );
      await assert.rejects(
        load(f, {}, { interfaceStateTimeout: ['Download=soon'] }),
        /--interface-state-timeout: expected State=duration pairs .* got \{"Download":"soon"\}/,
      );
      assert.deepEqual((await load('/dev/null', {}, { repo: '/srv', id: 'gw' })).config.interfaces.stateTimeouts, {});
    },
  );

  test(
    'every setting is documented, has an environment variable and a flag, and appears in --help and the ' + 'README',
    async () => {
      const help = spawnSync(process.execPath, [CLI, 'agent', '--help'], { encoding: 'utf8' }).stdout;
      const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
      assert.ok(SETTINGS.length >= 20);
      for (const s of SETTINGS) {
        assert.ok(s.description.length > 20, `${s.key} is documented`);
        assert.match(s.env, /^(ROLLGATE_[A-Z_]+|DOCKER_HOST)$/);
        assert.ok(help.includes(s.flag.split(' ')[0]!), `--help lists ${s.flag}`);
        assert.ok(help.includes(s.env), `--help names ${s.env}`);
        assert.ok(readme.includes(`\`${s.key}\``), `the README documents ${s.key}`);
      }
    },
  );

  test('--print-config shows the effective configuration and where each value came from', async () => {
    const r = await rollgate(
      'agent',
      '--config',
      '/dev/null',
      '--repo',
      '/srv/fleet',
      '--id',
      'gw-7',
      '--interval',
      '30s',
      '--print-config',
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /url: \/srv\/fleet # --repo\n/);
    assert.match(r.out, /interval: 30s # --interval\n/);
    assert.match(r.out, /jitter: 10s # default\n/);
  });
});

describe('the health window (real servers and commands)', () => {
  const servers: Server[] = [];
  after(() => servers.forEach((s) => s.close()));
  const base = { required: true, intervalMs: 50, timeoutMs: 500, failureThreshold: 3 };
  const spec = (checks: HealthCheck[], windowMs = 300, deadlineMs = 5_000): HealthSpec => ({
    windowMs,
    deadlineMs,
    checks,
  });

  async function http(handler: (n: number) => number): Promise<number> {
    let n = 0;
    const s = httpServer((_, res) => {
      res.writeHead(handler(++n));
      res.end();
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as { port: number }).port;
  }

  test(
    'passes once every required check held for the window; advisory failures are reported, not ' + 'decisive',
    async () => {
      const port = await http(() => 200);
      const tcp = tcpServer(() => {});
      await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
      const tcpPort = (tcp.address() as { port: number }).port;
      const v = await healthWindow(
        spec([
          { ...base, name: 'api', kind: 'http', url: `http://127.0.0.1:${port}/`, expectStatus: [200] },
          { ...base, name: 'broker', kind: 'tcp', host: '127.0.0.1', port: tcpPort },
          { ...base, name: 'ok-cmd', kind: 'command', argv: ['true'] },
          { ...base, name: 'uplink', required: false, kind: 'tcp', host: '127.0.0.1', port: 1 },
        ]),
        {},
        { log: silentLog },
      );
      tcp.close();
      assert.equal(v.ok, true, v.reason);
      assert.ok(v.checks.find((c) => c.name === 'api')!.passes >= 2, 'checked more than once during the window');
      assert.equal(v.warnings.length, 1);
      assert.match(v.warnings[0]!, /^uplink: 127\.0\.0\.1:1: ECONNREFUSED/);
    },
  );

  test(
    'a required check failing threshold times in a row fails the window, naming the check and what it ' + 'saw',
    async () => {
      const port = await http((n) => (n <= 1 ? 200 : 503));
      const v = await healthWindow(
        spec([{ ...base, name: 'api', kind: 'http', url: `http://127.0.0.1:${port}/`, expectStatus: [200] }], 10_000),
        {},
        { log: silentLog },
      );
      assert.equal(v.ok, false);
      assert.match(
        v.reason!,
        /^api failed 3 time\(s\) in a row: http:\/\/127\.0\.0\.1:\d+\/ answered HTTP 503, expected 200$/,
      );
    },
  );

  test('a flapping check never holds for the window: the deadline fails it instead of waiting forever', async () => {
    const port = await http((n) => (n % 2 === 0 ? 500 : 200));
    const v = await healthWindow(
      spec(
        [{ ...base, name: 'flappy', kind: 'http', url: `http://127.0.0.1:${port}/`, expectStatus: [200] }],
        400,
        1_000,
      ),
      {},
      { log: silentLog },
    );
    assert.equal(v.ok, false);
    assert.match(v.reason!, /did not hold for 400 ms within the deadline of 1s/);
  });

  test('a command that hangs is killed at its timeout, and its output is in the reason', async () => {
    const v = await healthWindow(
      spec([
        {
          ...base,
          failureThreshold: 1,
          timeoutMs: 200,
          name: 'hang',
          kind: 'command',
          argv: ['sh', '-c', 'echo still thinking; exec sleep 30'],
        },
      ]),
      {},
      { log: silentLog },
    );
    assert.equal(v.ok, false);
    assert.match(
      v.reason!,
      /sh -c echo still thinking; exec sleep 30 ran longer than 200 ms and was killed; it printed: still thinking/,
    );
    const v2 = await healthWindow(
      spec([{ ...base, failureThreshold: 1, name: 'missing', kind: 'command', argv: ['/nonexistent/probe'] }]),
      {},
      { log: silentLog },
    );
    assert.match(v2.reason!, /\/nonexistent\/probe: ENOENT/);
  });

  test('a command that passes but leaves a child holding its output passes, and the child is ended', async () => {
    const d = dir();
    const pidFile = join(d, 'child.pid');
    const v = await healthWindow(
      spec([
        {
          ...base,
          failureThreshold: 1,
          timeoutMs: 5_000,
          name: 'leaves-child',
          kind: 'command',
          argv: ['sh', '-c', `sleep 1000 & echo $! > ${pidFile}; echo ok`],
        },
      ]),
      { stateDir: d },
      { log: silentLog },
    );
    assert.equal(v.ok, true, v.reason);
    const child = Number(readFileSync(pidFile, 'utf8'));
    const running = () =>
      existsSync(`/proc/${child}/stat`) && readFileSync(`/proc/${child}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
    for (let i = 0; i < 50 && running(); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(running(), false, 'the child is ended');
    // A check may still be in flight when the window passed; it ends within its timeout.
    for (let i = 0; i < 100 && readdirSync(join(d, 'processes')).length; i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(readdirSync(join(d, 'processes')), [], 'nothing of the checks is left on record');
  });

  test('a container check asks the Engine through the given view and wants the desired configuration', async () => {
    const containers = { service: async () => [{ running: true, configHash: 'old', health: 'healthy' }] };
    const v = await healthWindow(
      spec([
        {
          ...base,
          failureThreshold: 1,
          name: 'web',
          kind: 'container',
          app: 'a',
          service: 'web',
          condition: 'healthy',
        },
      ]),
      { containers, configHashes: new Map([['a/web', 'new']]) },
      { log: silentLog },
    );
    assert.match(v.reason!, /a\/web: no container of the desired configuration/);
    const ok = await healthWindow(
      spec([{ ...base, name: 'web', kind: 'container', app: 'a', service: 'web', condition: 'healthy' }]),
      { containers, configHashes: new Map([['a/web', 'old']]) },
      { log: silentLog },
    );
    assert.equal(ok.ok, true);
  });

  test('a healthcheck still starting is no failure: the check waits, and only the deadline fails it', async () => {
    let calls = 0;
    const starting = {
      service: async () => [{ running: true, configHash: 'h', health: ++calls <= 4 ? 'starting' : 'healthy' }],
    };
    const check: HealthCheck = {
      ...base,
      failureThreshold: 1,
      name: 'web',
      kind: 'container',
      app: 'a',
      service: 'web',
      condition: 'healthy',
    };
    const hashes = new Map([['a/web', 'h']]);
    const v = await healthWindow(spec([check]), { containers: starting, configHashes: hashes }, { log: silentLog });
    assert.equal(v.ok, true, v.reason);
    assert.ok(calls > 4, 'it asked again while the container was starting');
    const never = { service: async () => [{ running: true, configHash: 'h', health: 'starting' }] };
    const late = await healthWindow(
      spec([check], 300, 600),
      { containers: never, configHashes: hashes },
      { log: silentLog },
    );
    assert.equal(late.ok, false);
    assert.match(late.reason!, /within the deadline of 600 ms \(failing: web: a\/web is starting/);
  });
});

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
    assert.deepEqual(
      [1, 2, 3, 6].map((n) => retryDelay(30_000, n, 300_000)),
      [30_000, 60_000, 120_000, 300_000],
    );
  });
});

describe('the systemd unit', () => {
  test(
    'systemd-analyze verify accepts it, and it restarts, orders after network and Docker, notifies and is ' +
      'hardened',
    () => {
      const unit = readFileSync(join(projectRoot, 'systemd/rollgate.service'), 'utf8');
      for (const line of [
        'Type=notify',
        'Restart=on-failure',
        'StateDirectory=rollgate',
        'WatchdogSec=',
        'NoNewPrivileges=yes',
        'ProtectHome=read-only',
        'PrivateTmp=yes',
      ])
        assert.ok(unit.includes(line), `has ${line}`);
      assert.match(unit, /^After=.*network-online\.target.*docker\.service/m);
      assert.match(unit, /^ExecStart=\/opt\/rollgate\/bin\/rollgate agent /m);
      verifyUnit('rollgate.service', unit);
    },
  );
});
