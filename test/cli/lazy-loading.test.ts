// A command loads what it uses, asked of the real processes (test/helpers/module-trace.ts lists
// every module a process loaded): `rollgate --version` and `--help` load the argument parser and
// nothing else; the agent at rest on a fleet of devices does not load the hub's database drivers,
// openpgp without OpenPGP keys to check, the Docker Engine client with no Engine, nor Node's fetch
// (undici: a poll is one request over node:http); each of them is loaded by what needs it.
// Neither the agent nor `rollgate validate` loads ajv: the validators are compiled at build time
// (scripts/gen-validators.mjs), and only ajv's small runtime helpers come with them.
// The Engine client with an Engine: test/agent/docker-lazy-engine.test.ts.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AgentProcess } from '../helpers/agent-process.js';
import { atRest } from '../helpers/agent-rest.js';
import { CLI } from '../helpers/cli.js';
import { DEVICES_FLEET_AGENT_ARGS, pushDevicesFleet } from '../helpers/devices-fleet.js';
import { cleanup, projectRoot, tempDir } from '../helpers/fixtures.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import {
  loadedAtExit,
  loadedNow,
  workersLoaded,
  MODULE_TRACE_ARGS,
  MODULE_TRACE_ENV,
  ownModulesIn,
  packagesIn,
  UNDICI,
} from '../helpers/module-trace.js';
import { Keyring, type GpgKey, type SshKey } from '../helpers/signing.js';

/** The hub's database drivers, openpgp, and dockerode with what it brings. */
const HEAVY = ['pg', '@electric-sql/pglite', 'openpgp', 'dockerode', 'ssh2', '@grpc/grpc-js', 'protobufjs'];
const heavyIn = (packages: Set<string>) => HEAVY.filter((p) => packages.has(p));
/** ajv's modules other than the runtime helpers its standalone code calls (equal, ucs2length, ...). */
const ajvCompilerIn = (modules: readonly string[]) =>
  modules.filter((m) => m.includes('/node_modules/ajv/') && !/\/node_modules\/ajv\/dist\/runtime\/[^/]+$/.test(m));

describe('a command loads only the modules it uses (real processes, their loaded modules listed)', () => {
  const root = tempDir('rollgate-lazy-');
  const srv = join(root, 'srv');
  const made: string[] = [];
  let server: GitServer;
  let ring: Keyring;
  let gpgKey: GpgKey;
  let sshKey: SshKey;
  let n = 0;
  const traceFile = () => join(root, `trace-${++n}`);

  /** The CLI as a process, traced; resolves when it exits. */
  function traced(...args: string[]): Promise<{ code: number | null; out: string; err: string; modules: string[] }> {
    const file = traceFile();
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [...MODULE_TRACE_ARGS, CLI, ...args], {
        env: { ...process.env, NO_COLOR: '1', [MODULE_TRACE_ENV]: file },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, out, err, modules: loadedAtExit(file) }));
    });
  }

  /**
   * The agent on a fleet repo of the server, applied and polling: what its resident part has
   * loaded then, and what its workers loaded (each as it exited), all together.
   */
  async function agentAtRest(repo: string, extra: string[] = []): Promise<string[]> {
    const { parent, workers } = await agentAtRestApart(repo, extra);
    return [...parent, ...workers.flat()];
  }

  async function agentAtRestApart(
    repo: string,
    extra: string[] = [],
  ): Promise<{ parent: string[]; workers: string[][]; workersAlive: number[] }> {
    const file = traceFile();
    const agent = new AgentProcess(
      join(root, `state-${n}`),
      [
        '--repo',
        server.url(repo),
        ...DEVICES_FLEET_AGENT_ARGS,
        '--interval',
        '200ms',
        '--jitter',
        '0s',
        // No Engine at this socket: this file is about what a gateway without one loads.
        '--docker-host',
        `unix://${join(root, 'no-engine.sock')}`,
        ...extra,
      ],
      { [MODULE_TRACE_ENV]: file },
      MODULE_TRACE_ARGS,
    );
    try {
      const applied = await agent.until('the fleet applied', (s) => s.lastGood !== undefined, 120_000);
      assert.equal(applied.bad.length, 0, agent.text());
      await atRest(agent);
      const workersAlive = agent.workerPids();
      const parent = await loadedNow(agent.pid, file);
      return { parent, workers: [...workersLoaded(file).values()], workersAlive };
    } finally {
      await agent.stop();
    }
  }

  before(async () => {
    ring = new Keyring(join(root, 'keys'));
    gpgKey = ring.gpgKey('Release Manager');
    sshKey = ring.sshKey('ci-signer');
    made.push(...pushDevicesFleet(srv));
    made.push(...pushDevicesFleet(srv, { name: 'pgp.git', key: gpgKey, keyring: ring }));
    made.push(...pushDevicesFleet(srv, { name: 'ssh.git', key: sshKey, keyring: ring }));
    server = await startGitServer(srv);
  });
  after(async () => {
    await server?.close();
    for (const dir of [root, ...made]) cleanup(dir);
  });

  test('rollgate --version and rollgate agent --help load the argument parser and no other package', async () => {
    const version = await traced('--version');
    assert.equal(version.code, 0, version.err);
    assert.match(version.out, /^\d+\.\d+\.\d+/);
    assert.deepEqual([...packagesIn(version.modules)], ['commander']);
    const help = await traced('agent', '--help');
    assert.equal(help.code, 0, help.err);
    assert.match(help.out, /--trusted-keys <file>/, 'the settings are in the help');
    assert.deepEqual([...packagesIn(help.modules)], ['commander']);
    const own = [...ownModulesIn(help.modules)];
    assert.ok(own.includes('cli/main.js'), `the trace sees rollgate's modules: ${own.join(', ')}`);
    for (const heavy of ['agent/agent.js', 'hub/db.js', 'trust/verify.js', 'apply/docker/applier.js'])
      assert.ok(!own.includes(heavy), `${heavy} is not loaded for --help`);
  });

  test('the agent at rest, devices only and no keys: no hub database driver, openpgp or Engine client', async () => {
    const modules = await agentAtRest('fleet.git');
    const packages = packagesIn(modules);
    assert.ok(packages.has('isomorphic-git'), `the trace sees what the agent uses: ${[...packages].join(', ')}`);
    assert.deepEqual(heavyIn(packages), []);
    assert.ok(
      modules.some((m) => m.startsWith('node:internal/')),
      "the trace sees Node's own modules",
    );
    assert.ok(!modules.includes(UNDICI), "the poll goes over node:http: Node's fetch (undici) is not loaded");
    const hub = [...ownModulesIn(modules)].filter((m) => m.startsWith('hub/') || m === 'cli/hub-command.js');
    assert.deepEqual(hub, ['hub/defaults.js'], "none of the hub's modules but its defaults, which the help shows");
    assert.ok(
      ownModulesIn(modules).has('manifest/validators.js'),
      'the trace sees the built validators the configuration was checked with',
    );
    assert.deepEqual(ajvCompilerIn(modules), [], 'no ajv: the validators were compiled at build time');
  });

  test('rollgate validate of the example fleet repo loads no ajv, only validators built at build time', async () => {
    const r = await traced('validate', '--repo', join(projectRoot, 'fleet-repo-example'));
    assert.equal(r.code, 0, r.err);
    const own = ownModulesIn(r.modules);
    assert.ok(own.has('manifest/validators.js'), `the trace sees the built validators: ${[...own].join(', ')}`);
    assert.ok(
      r.modules.some((m) => m.includes('/node_modules/ajv/dist/runtime/')),
      "the trace sees ajv's files: its runtime helpers",
    );
    assert.deepEqual(ajvCompilerIn(r.modules), [], 'no ajv: the validators were compiled at build time');
  });

  test('the resident part at rest: no worker alive, no lifecycle, git client, openpgp or Engine client', async () => {
    const { parent, workers, workersAlive } = await agentAtRestApart('pgp.git', ['--trusted-keys', gpgKey.publicFile]);
    assert.deepEqual(workersAlive, [], 'the worker that applied the commit has exited');
    assert.ok(workers.length >= 2, `workers ran (the start's resume, the first reconcile): ${workers.length}`);
    const ownParent = [...ownModulesIn(parent)];
    assert.ok(ownParent.includes('agent/agent.js'), `the trace sees the resident part: ${ownParent.join(', ')}`);
    assert.deepEqual(
      ownParent.filter((m) => m.startsWith('lifecycle/')),
      [],
      'the commit lifecycle is loaded by the worker only',
    );
    const packages = packagesIn(parent);
    for (const heavy of ['isomorphic-git', 'openpgp', 'dockerode'])
      assert.ok(!packages.has(heavy), `${heavy} is not loaded by the resident part: ${[...packages].join(', ')}`);
    const inWorkers = packagesIn(workers.flat());
    assert.ok(inWorkers.has('isomorphic-git') && inWorkers.has('openpgp'), 'the worker fetched and checked signatures');
    assert.ok(
      [...ownModulesIn(workers.flat())].includes('lifecycle/lifecycle.js'),
      'the worker ran the commit lifecycle',
    );
  });

  test('with an OpenPGP trusted key the agent loads openpgp, and applies the signed commit', async () => {
    const packages = packagesIn(await agentAtRest('pgp.git', ['--trusted-keys', gpgKey.publicFile]));
    assert.deepEqual(heavyIn(packages), ['openpgp']);
  });

  test('with SSH trusted keys only, openpgp is not loaded (SSH signatures are checked with node:crypto)', async () => {
    const signers = ring.allowedSigners('allowed_signers', [sshKey]);
    const packages = packagesIn(await agentAtRest('ssh.git', ['--trusted-keys', signers]));
    assert.deepEqual(heavyIn(packages), []);
  });

  test("rollgate hub token add loads the hub's embedded database", async () => {
    const r = await traced('hub', 'token', 'add', 'ops', '--role', 'admin', '--data-dir', join(root, 'hub'));
    assert.equal(r.code, 0, r.err);
    assert.ok(packagesIn(r.modules).has('@electric-sql/pglite'));
  });
});
