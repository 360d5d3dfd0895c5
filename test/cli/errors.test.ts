// A newcomer's errors, through the built command as a separate process: each says what is wrong
// and what to do, once — a state directory that cannot be made or does not exist, a configuration
// not written yet, and a Docker Engine found the same way whether its socket is named or not.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CLI, rollgate, type CliResult } from '../helpers/cli.js';
import { cleanup, projectRoot, tempDir } from '../helpers/fixtures.js';

const root = tempDir('rollgate-errors-');
chmodSync(root, 0o755);
after(() => cleanup(root));

const isRoot = process.getuid?.() === 0;

/** The command as a user who may not write `dir`: nobody when the tests run as root, else this user. */
function asUnprivileged(...args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', HOME: root },
      ...(isRoot ? { uid: 65534, gid: 65534 } : {}),
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, out, err }));
  });
}

const count = (text: string, part: string) => text.split(part).length - 1;

describe('a state directory that cannot be made', () => {
  const locked = join(root, 'locked');
  mkdirSync(locked, { mode: 0o555 });
  chmodSync(locked, 0o555);
  const stateDir = join(locked, 'state');
  const example = join(projectRoot, 'fleet-repo-example');

  test('rollgate apply: one line naming the directory, where it failed, and what to do', async () => {
    const r = await asUnprivileged('apply', '--repo', example, '--id', 'gw-0042', '--state-dir', stateDir);
    assert.equal(r.code, 1, r.err);
    assert.equal(
      r.err,
      `error: cannot create the state directory ${stateDir}: permission denied (in ${locked}). rollgate keeps ` +
        "what it applied there, and a gateway's agent runs as root: run it as root, choose a directory this user " +
        'can write with --state-dir (stateDir or ROLLGATE_STATE_DIR for the agent), or make ' +
        `${locked} writable by this user\n`,
    );
    assert.doesNotMatch(r.err, /EACCES/);
  });

  test('rollgate agent: said once, in its log', async () => {
    const r = await asUnprivileged(
      'agent',
      '--config',
      '/dev/null',
      '--repo',
      example,
      '--id',
      'gw-0042',
      '--state-dir',
      stateDir,
      '--metrics-listen',
      'off',
    );
    assert.equal(r.code, 1, r.out + r.err);
    assert.equal(count(r.out + r.err, `cannot create the state directory ${stateDir}`), 1, r.out + r.err);
    const line = JSON.parse(r.out.trim()) as { level: string; msg: string };
    assert.equal(line.level, 'error');
    assert.match(line.msg, /^the agent could not start: cannot create the state directory .* run it as root/);
    assert.equal(r.err, '');
  });
});

describe('status, history, forget and sync of a state directory that does not exist', () => {
  const missing = join(root, 'no-such-state');
  for (const args of [['status'], ['history'], ['sync'], ['forget', 'abcdef1', '--reason', 'x']]) {
    test(`rollgate ${args[0]}: says it does not exist and exits 1, instead of "applied nothing yet"`, async () => {
      const r = await rollgate(...args, '--state-dir', missing);
      assert.equal(r.code, 1, r.out);
      assert.equal(r.out, '');
      assert.equal(
        r.err,
        `error: the state directory ${missing} (from --state-dir) does not exist, so no agent has run with it. ` +
          "Give the agent's with --state-dir, or its configuration with --config (stateDir there)\n",
      );
    });
  }

  test('the directory named by the configuration file is said to come from it', async () => {
    const config = join(root, 'config.yaml');
    writeFileSync(config, `stateDir: ${missing}\n`);
    const r = await rollgate('status', '--config', config);
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`the state directory ${missing} \\(stateDir of ${config}\\) does not exist`));
  });

  test('an empty state directory is one no agent applied anything from yet: exit 0', async () => {
    const empty = join(root, 'empty-state');
    mkdirSync(empty, { mode: 0o700 });
    const r = await rollgate('status', '--state-dir', empty);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /applied {10}nothing yet/);
  });
});

test('agent --print-config without a configuration: defaults, where each value came from, what is unset', async () => {
  const r = await rollgate('agent', '--print-config', '--config', '/dev/null', '--interval', '5m', '--label', 'a=b');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^# The agent's effective configuration: file \/dev\/null,\n/);
  assert.match(r.out, /\n# The agent does not start until repo\.url and gateway\.id are set\.\n/);
  assert.match(r.out, /\n {2}url: # not set: the agent needs it \(repo\.url in the file, ROLLGATE_REPO or --repo\)\n/);
  assert.match(
    r.out,
    /\n {2}id: # not set: the agent needs it \(gateway\.id in the file, ROLLGATE_GATEWAY_ID or --id\)/,
  );
  assert.match(r.out, /\n {2}ref: main # default\n/);
  assert.match(r.out, /\nstateDir: \/var\/lib\/rollgate # default\n/);
  assert.match(r.out, /\n {2}interval: 5m # --interval\n/);
  assert.match(r.out, /\n {2}labels: \{ a: b \} # --label\n/);
  const env = spawnSync(process.execPath, [CLI, 'agent', '--print-config', '--config', '/dev/null'], {
    env: { ...process.env, ROLLGATE_JITTER: '1m', ROLLGATE_REPO: '/srv/fleet' },
    encoding: 'utf8',
  });
  assert.equal(env.status, 0, env.stderr);
  assert.match(env.stdout, /\n {2}jitter: 1m # ROLLGATE_JITTER\n/);
  assert.match(env.stdout, /\n {2}url: \/srv\/fleet # ROLLGATE_REPO\n/);
  assert.match(env.stdout, /The agent does not start until gateway\.id is set\./);
});

/**
 * `rollgate observe` in a mount namespace of its own, where /run (and so /var/run/docker.sock, the
 * default socket) is a fresh tmpfs: `setup` makes the socket as the case needs, and the command
 * runs once without --docker-host and once naming the default socket.
 */
function observeBothWays(setup: string): { without: CliResult; named: CliResult } {
  const run = (extra: string[]): CliResult => {
    const argv = [CLI, 'observe', '--state-dir', join(root, 'observe-state'), ...extra];
    const script = `mount -t tmpfs none /run && ${setup} && exec "$0" "$@"`;
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env['DOCKER_HOST'];
    const r = spawnSync('unshare', ['-m', 'sh', '-c', script, process.execPath, ...argv], { encoding: 'utf8', env });
    return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
  };
  return { without: run([]), named: run(['--docker-host', 'unix:///var/run/docker.sock']) };
}

const namespaces = isRoot && spawnSync('unshare', ['-m', 'true']).status === 0;

describe(
  'rollgate observe finds the Engine the same way whether its socket is named or not',
  { skip: namespaces ? false : 'needs root and unshare(1) for a mount namespace with its own /run' },
  () => {
    test('no socket there: a gateway without Docker, said on stderr, exit 0 both ways', () => {
      const { without, named } = observeBothWays('true');
      assert.equal(without.code, 0, without.err);
      assert.deepEqual(named, without);
      assert.equal(
        without.err,
        '! Docker Engine unreachable at unix:///var/run/docker.sock: the socket does not exist (is dockerd ' +
          'running?); containers are not observed\n',
      );
      assert.match(without.out, /^live gateway \(no Docker Engine, update interfaces\)\n/);
    });

    test('a directory in the socket’s place (a bind mount of a missing socket made): no Engine, both ways', () => {
      const { without, named } = observeBothWays('mkdir /run/docker.sock');
      assert.equal(without.code, 0, without.err);
      assert.deepEqual(named, without);
      assert.equal(
        without.err,
        '! Docker Engine unreachable at unix:///var/run/docker.sock: it is a directory, not a socket (is dockerd ' +
          'running?); containers are not observed\n',
      );
    });

    test('a socket that refuses: an error naming it, both ways (it was "no Docker Engine" without the flag)', () => {
      // A socket file whose server has gone: connections are refused.
      const stale = `"$0" -e "require('net').createServer().listen('/run/docker.sock', () => process.exit(0))"`;
      const { without, named } = observeBothWays(stale);
      assert.equal(without.code, 1, without.out);
      assert.deepEqual(named, without);
      assert.equal(
        without.err,
        'error: Docker Engine unreachable at unix:///var/run/docker.sock: connection refused (is dockerd running?)\n',
      );
    });
  },
);
