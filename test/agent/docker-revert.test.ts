// The revert users are told to do, on the whole of fleet-repo-example: its devices and its edge
// app, through `rollgate agent` as a process, a real git http-backend, the private Engine and
// registry (the example's image names are the test registry's, 127.0.0.1:5000). System v1, then v2
// (the example as shipped), then `git revert` of v2: the whole declared order runs backwards, the
// app first, then the RTOS devices, then the gateway; then `git revert` of the revert.

import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LABEL } from '../../src/apply/index.js';
import { AgentProcess, lastHistory } from '../helpers/agent-process.js';
import { DeviceLab, requireMenderTools } from '../helpers/devices.js';
import { requireDocker, removeApp } from '../helpers/docker-tests.js';
import { projectRoot, run } from '../helpers/fixtures.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';

const env = requireDocker();
const missing = env ? requireMenderTools() : 'no Docker Engine (see the line above)';
const IMAGES = ['broker:1.0', 'collector:1.0', 'collector:2.0', 'api:1.0', 'api:2.0'];

describe(
  'git revert on the whole of fleet-repo-example (devices and app), through the agent',
  { skip: missing ?? false },
  () => {
    const lab = new DeviceLab();
    const work = join(lab.root, 'fleet');
    const srv = join(lab.root, 'srv');
    let server: GitServer;
    let agent: AgentProcess;
    const git = (...args: string[]) => run('git', ['-C', work, ...args]);

    /** The example at one step of its story, on this lab's devices, with a health window made short. */
    function writeExample(version: 'v1' | 'v2'): void {
      for (const entry of readdirSync(work))
        if (entry !== '.git') rmSync(join(work, entry), { recursive: true, force: true });
      cpSync(join(projectRoot, 'fleet-repo-example'), work, { recursive: true });
      if (version === 'v1') cpSync(join(projectRoot, 'examples/story/v1'), work, { recursive: true });
      const manifest = join(work, 'systems/gateway/manifest.yaml');
      writeFileSync(
        manifest,
        readFileSync(manifest, 'utf8').replaceAll('/var/lib/rollgate-example/', `${lab.devices}/`),
      );
      const health = join(work, 'systems/gateway/health.yaml');
      writeFileSync(
        health,
        readFileSync(health, 'utf8')
          .replace('window: 30s', 'window: 2s')
          .replace('deadline: 3m', 'deadline: 90s')
          .replace('defaults: { interval: 5s,', 'defaults: { interval: 500ms,'),
      );
    }

    const images = async () =>
      Object.fromEntries(
        (await env!.docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL.app}=edge`] }) }))
          .map((c) => [c.Labels[LABEL.service]!, `${c.Image.split(':').pop()} (${c.State})`])
          .sort(),
      );
    const expectDevices = (v: string) =>
      assert.deepEqual(lab.running(), { G13: `gateway-${v}`, R456: `rtos-${v}`, R998: `rtos-${v}` });
    /** Where the first step on each part of the gateway ran, in the order the agent ran the commit's steps. */
    const firstAt = (steps: string[]) => {
      const at = (re: RegExp) => steps.findIndex((s) => re.test(s));
      return {
        app: at(/^(create|start) service\/edge\//),
        rtos: at(/^install component\/R/),
        gateway: at(/^install component\/G13/),
      };
    };

    before(async () => {
      for (const i of IMAGES) {
        const [name, tag] = i.split(':') as [string, string];
        await env!.image(`rollgate-example/${name}`, tag);
      }
      lab.seed((t) => `${t}-v1`);
      run('git', ['init', '-q', '--bare', '-b', 'main', join(srv, 'fleet.git')]);
      run('git', ['init', '-q', '-b', 'main', work]);
      git('remote', 'add', 'origin', join(srv, 'fleet.git'));
      server = await startGitServer(srv);
    });
    after(async () => {
      await agent?.kill();
      await server?.close();
      if (env) {
        await removeApp(env.docker, 'edge', { networks: ['edge_default'], volumes: ['edge_collector-data'] });
        for (const i of IMAGES)
          await env.docker
            .getImage(`${env.registry}/rollgate-example/${i}`)
            .remove({ force: true })
            .catch(() => {});
      }
      lab.close();
    });

    let v2: string;
    test('v2, the example as shipped: the gateway, then the RTOS devices, then the app', async () => {
      writeExample('v1');
      git('add', '-A');
      git('commit', '-q', '-m', 'Roll out system v1');
      writeExample('v2');
      git('add', '-A');
      git('commit', '-q', '-m', 'Roll out system v2');
      v2 = git('rev-parse', 'HEAD');
      git('push', '-q', 'origin', 'main');
      agent = new AgentProcess(
        lab.stateDir,
        [
          '--repo',
          server.url('fleet.git'),
          '--ref',
          'main',
          '--id',
          'gw-0042',
          '--label',
          'role=gateway',
          '--interfaces-dir',
          join(projectRoot, 'fleet-repo-example/interfaces'),
          '--docker-host',
          `unix://${env!.socket}`,
          '--interval',
          '1s',
          '--jitter',
          '0s',
        ],
        { ROLLGATE_BOOT_ID_FILE: lab.bootIdFile },
      );
      const s = await agent.until('v2 applied', (x) => x.lastGood?.commit === v2 || x.bad.length > 0, 300_000);
      assert.deepEqual(s.bad, []);
      assert.equal(s.lastGood?.commit, v2);
      expectDevices('v2');
      assert.deepEqual(await images(), { api: '2.0 (running)', broker: '1.0 (running)', collector: '2.0 (running)' });
      const at = firstAt(lastHistory(s, v2)?.steps ?? []);
      assert.ok(at.gateway >= 0 && at.gateway < at.rtos && at.rtos < at.app, JSON.stringify(at));
    });

    const title = 'git revert of v2: the app back first, then the RTOS devices, then the gateway; then v2 again';
    test(title, async () => {
      git('revert', '--no-edit', v2);
      const revert = git('rev-parse', 'HEAD');
      git('push', '-q', 'origin', 'main');
      const s = await agent.until(
        'the revert applied or refused',
        (x) => x.lastGood?.commit === revert || x.bad.length > 0,
        300_000,
      );
      assert.deepEqual(s.bad, [], 'the revert is not a bad commit');
      assert.equal(s.lastGood?.commit, revert);
      expectDevices('v1');
      assert.deepEqual(await images(), { api: '1.0 (running)', broker: '1.0 (running)', collector: '1.0 (running)' });
      const at = firstAt(lastHistory(s, revert)?.steps ?? []);
      assert.ok(at.app >= 0 && at.app < at.rtos && at.rtos < at.gateway, JSON.stringify(at));
      await agent.waitForLog(/order: reversed: app edge \(group 30\) → rtos \(group 20\) → gateway \(group 10\)/);

      git('revert', '--no-edit', revert);
      const again = git('rev-parse', 'HEAD');
      git('push', '-q', 'origin', 'main');
      const s2 = await agent.until(
        'v2 again applied or refused',
        (x) => x.lastGood?.commit === again || x.bad.length > 0,
        300_000,
      );
      assert.deepEqual(s2.bad, []);
      assert.equal(s2.lastGood?.commit, again);
      expectDevices('v2');
      assert.deepEqual(await images(), { api: '2.0 (running)', broker: '1.0 (running)', collector: '2.0 (running)' });
      const at2 = firstAt(lastHistory(s2, again)?.steps ?? []);
      assert.ok(at2.gateway >= 0 && at2.gateway < at2.rtos && at2.rtos < at2.app, JSON.stringify(at2));
    });
  },
);
