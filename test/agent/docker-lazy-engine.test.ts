// The agent loads the Docker Engine client (dockerode, with ssh2, grpc-js and protobufjs) when it
// needs it — in its worker, never in its resident part — asked of the real processes
// (test/helpers/module-trace.ts) on the private Engine: not at rest with no apps desired and
// nothing of rollgate's on the Engine; when an app is desired; and after a restart on a commit that
// desires none while the Engine still runs the app, which the agent then removes, as before.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { LABEL } from '../../src/apply/index.js';
import { AgentProcess } from '../helpers/agent-process.js';
import { atRest } from '../helpers/agent-rest.js';
import { requireDocker } from '../helpers/docker-tests.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { rollgateWith } from '../helpers/cli.js';
import {
  loadedAtExit,
  loadedNow,
  MODULE_TRACE_ARGS,
  MODULE_TRACE_ENV,
  packagesIn,
  workersLoaded,
} from '../helpers/module-trace.js';

const env = requireDocker();

describe(
  'the agent loads the Engine client when apps are desired or rollgate has objects on the Engine (real Engine)',
  { skip: env ? false : 'no Docker Engine (see the line above)' },
  () => {
    const root = tempDir('rollgate-docker-lazy-');
    const work = join(root, 'fleet');
    const srv = join(root, 'srv');
    const stateDir = join(root, 'state');
    const trace = join(root, 'trace');
    let server: GitServer;
    let docker: Docker;
    let image = '';
    let agent: AgentProcess | undefined;
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=Ops', '-c', 'user.email=ops@example.com', ...args], { cwd: work })
        .toString()
        .trim();
    const label = JSON.stringify({ label: [LABEL.app] });
    const rollgateObjects = async () => [
      ...(await docker.listContainers({ all: true, filters: label })).map((c) => `container ${c.Names[0]}`),
      ...(await docker.listNetworks({ filters: label })).map((n) => `network ${n.Name}`),
      ...((await docker.listVolumes({ filters: label })).Volumes ?? []).map((v) => `volume ${v.Name}`),
    ];

    /** A system with the app `web`, or with none; its health: a command that passes. */
    function commit(withApp: boolean, message: string): string {
      rmSync(join(work, 'apps'), { recursive: true, force: true });
      if (withApp) {
        mkdirSync(join(work, 'apps/web'), { recursive: true });
        writeFileSync(
          join(work, 'apps/web/compose.yaml'),
          `services:\n  web:\n    image: ${image}\n    command: ["httpd", "-f", "-p", "8080", "-h", "/"]\n` +
            '    init: true\n    stop_grace_period: 1s\n',
        );
      }
      writeFileSync(
        join(work, 'rollgate.yaml'),
        'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  sys:\n' +
          (withApp ? '    apps:\n      web: apps/web/compose.yaml\n' : '') +
          '    health: health.yaml\ntargets:\n  - name: all\n    match: { any: true }\n    system: sys\n',
      );
      writeFileSync(
        join(work, 'health.yaml'),
        'apiVersion: rollgate/v1\nkind: Health\nwindow: 500ms\ndeadline: 20s\ndefaults: { interval: 200ms, ' +
          'timeout: 1s }\nchecks:\n  - name: passes\n    command: { argv: [test, -d, /] }\n',
      );
      git('add', '-A');
      git('commit', '-q', '-m', message);
      git('push', '-q', 'origin', 'main');
      return git('rev-parse', 'HEAD');
    }

    /** The gateway's arguments, the agent's and `rollgate apply`'s alike. */
    const gateway = () => [
      '--repo',
      server.url('fleet.git'),
      '--id',
      'gw-lazy',
      '--docker-host',
      `unix://${env!.socket}`,
    ];
    const start = () =>
      new AgentProcess(
        stateDir,
        [...gateway(), '--interval', '300ms', '--jitter', '0s'],
        { [MODULE_TRACE_ENV]: trace },
        MODULE_TRACE_ARGS,
      );

    /**
     * Whether the Engine client was loaded since the last look: by the agent's workers, which do the
     * work (each writes its list as it exits); the resident part never loads it.
     */
    const engineClientLoaded = async (a: AgentProcess) => {
      for (let i = 0; i < 200 && a.workerPids().length > 0; i++) await sleep(50);
      const parent = packagesIn(await loadedNow(a.pid, trace));
      assert.ok(!parent.has('dockerode'), "the agent's resident part does not load the Engine client");
      const workers = workersLoaded(trace);
      for (const pid of workers.keys()) rmSync(`${trace}.worker-${pid}`, { force: true });
      return [...workers.values()].some((m) => packagesIn(m).has('dockerode'));
    };

    before(async () => {
      docker = env!.docker;
      image = await env!.image('lazy/web', '1');
      // The private Engine serves one test file at a time; what an earlier one left would be
      // rollgate's objects to this agent.
      const left = await rollgateObjects();
      if (left.length) {
        process.stderr.write(`\n!!! removing rollgate objects earlier test files left: ${left.join(', ')}\n\n`);
        for (const c of await docker.listContainers({ all: true, filters: label }))
          await docker.getContainer(c.Id).remove({ force: true });
        for (const n of await docker.listNetworks({ filters: label })) await docker.getNetwork(n.Id).remove();
        for (const v of (await docker.listVolumes({ filters: label })).Volumes ?? [])
          await docker.getVolume(v.Name).remove();
      }
      mkdirSync(srv, { recursive: true });
      execFileSync('git', ['init', '-q', '--bare', '-b', 'main', join(srv, 'fleet.git')]);
      execFileSync('git', ['init', '-q', '-b', 'main', work]);
      git('remote', 'add', 'origin', join(srv, 'fleet.git'));
      server = await startGitServer(srv);
    });
    after(async () => {
      await agent?.kill();
      for (const c of await docker.listContainers({ all: true, filters: label }).catch(() => []))
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {});
      await server?.close();
      cleanup(root);
    });

    test('no apps desired and nothing of rollgate on the Engine: the client is not loaded at rest', async () => {
      const c1 = commit(false, 'no apps');
      assert.deepEqual(await rollgateObjects(), []);
      agent = start();
      await agent.until('no apps applied', (s) => s.lastGood?.commit === c1);
      await atRest(agent);
      assert.equal(await engineClientLoaded(agent), false);
    });

    test('an app desired: the client is loaded and the app runs', async () => {
      const c2 = commit(true, 'web');
      await agent!.until('web applied', (s) => s.lastGood?.commit === c2);
      assert.equal(await engineClientLoaded(agent!), true);
      const [web] = await docker.listContainers({ filters: JSON.stringify({ label: [`${LABEL.app}=web`] }) });
      assert.equal(web?.State, 'running');
      await agent!.stop();
    });

    test('`rollgate apply` with the app running: nothing to do loads no client; a step to run does', async () => {
      const cliTrace = join(root, 'cli-trace');
      const apply = async () => {
        const r = await rollgateWith(
          { [MODULE_TRACE_ENV]: cliTrace, NODE_OPTIONS: `--import=${MODULE_TRACE_ARGS[1]!}` },
          'apply',
          ...gateway(),
          '--state-dir',
          stateDir,
        );
        assert.equal(r.code, 0, r.err);
        return { out: r.out, client: packagesIn(loadedAtExit(cliTrace)).has('dockerode') };
      };
      const quiet = await apply();
      assert.match(quiet.out, /Nothing to apply/, quiet.out);
      assert.equal(quiet.client, false, 'observing the Engine and finding nothing to do loads no Engine client');

      const filters = JSON.stringify({ label: [`${LABEL.app}=web`] });
      const [web] = await docker.listContainers({ all: true, filters });
      await docker.getContainer(web!.Id).remove({ force: true });
      const repair = await apply();
      assert.equal(repair.client, true, 'a container to make again is made through the Engine client');
      const [again] = await docker.listContainers({ filters });
      assert.equal(again?.State, 'running');
      assert.notEqual(again?.Id, web!.Id);
    });

    test('restarted on a commit without the app: the client is loaded to remove it; then not, at rest', async () => {
      const c3 = commit(false, 'web removed');
      agent = start();
      await agent.until('web removed', (s) => s.lastGood?.commit === c3);
      assert.equal(await engineClientLoaded(agent), true);
      assert.deepEqual(await rollgateObjects(), [], 'the app and its network are gone');
      await agent.stop();

      agent = start();
      await atRest(agent);
      assert.equal(agent.state()?.lastGood?.commit, c3);
      assert.equal(await engineClientLoaded(agent), false);
    });
  },
);
