// A maintenance window with a real agent, Engine, registry, git server and simulated devices: the
// whole of fleet-repo-example. v1 runs; v2 is committed with a window that opens some seconds
// later. While the window is still closed the agent downloads what v2 needs — its images are in
// the Engine (pulled through the registry), its artifacts in the cache — and says so, with no
// container replaced and no interface called; in the window v2 installs without pulling again.
// Then the window closes, and a `git revert` of v2 arrives (the window stays in the fleet file): a
// return, which no window holds — the gateway goes back at once. (A commit that adds only the
// window comes first, and goes at once too: it gives the gateway what it runs already.)

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { LABEL } from '../../src/apply/index.js';
import { AgentProcess, lastHistory } from '../helpers/agent-process.js';
import { rollgate } from '../helpers/cli.js';
import { DeviceLab, requireMenderTools } from '../helpers/devices.js';
import { requireDocker, removeApp } from '../helpers/docker-tests.js';
import { projectRoot, run } from '../helpers/fixtures.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';

const env = requireDocker();
const missing = env ? requireMenderTools() : 'no Docker Engine (see the line above)';
const IMAGES = ['broker:1.0', 'collector:1.0', 'collector:2.0', 'api:1.0', 'api:2.0'];
/** How long after v2's push its window opens: time to find v2, download it, and look. */
const OPENS_IN_MS = 45_000;
const OPEN_FOR = '60s';

describe(
  'downloads ahead of the window, and a revert that no window holds (real agent)',
  { skip: missing ?? false },
  () => {
    const lab = new DeviceLab();
    const work = join(lab.root, 'fleet');
    const srv = join(lab.root, 'srv');
    let server: GitServer;
    let agent: AgentProcess;
    const git = (...args: string[]) => run('git', ['-C', work, ...args]);

    /** The example at v1 or v2 on this lab's devices, health made short; `window` goes on the gateways' target. */
    function writeExample(version: 'v1' | 'v2', window = ''): void {
      for (const entry of readdirSync(work))
        if (entry !== '.git') rmSync(join(work, entry), { recursive: true, force: true });
      cpSync(join(projectRoot, 'fleet-repo-example'), work, { recursive: true });
      if (version === 'v1') cpSync(join(projectRoot, 'examples/story/v1'), work, { recursive: true });
      const fleet = join(work, 'rollgate.yaml');
      writeFileSync(
        fleet,
        readFileSync(fleet, 'utf8').replace(
          '    match: { labels: { role: gateway } }\n',
          `    match: { labels: { role: gateway } }\n${window}`,
        ),
      );
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

    const ref = (i: string) => `${env!.registry}/rollgate-example/${i}`;
    const inEngine = (i: string) =>
      env!.docker
        .getImage(ref(i))
        .inspect()
        .then(
          () => true,
          () => false,
        );
    /** The app's containers: service → image tag, state and id. */
    const containers = async () =>
      Object.fromEntries(
        (await env!.docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL.app}=edge`] }) }))
          .map((c) => [c.Labels[LABEL.service]!, `${c.Image.split(':').pop()} (${c.State}) ${c.Id}`])
          .sort(),
      );
    const deviceCalls = () => lab.calls().filter((c) => / (Download|ArtifactInstall|ArtifactCommit)$/.test(c));
    const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
    const cached = (artifact: string) =>
      existsSync(
        join(
          lab.stateDir,
          'artifacts',
          `${sha256(join(projectRoot, 'fleet-repo-example/artifacts', artifact))}.mender`,
        ),
      );

    before(async () => {
      for (const i of IMAGES) {
        const [name, tag] = i.split(':') as [string, string];
        await env!.image(`rollgate-example/${name}`, tag); // in the registry only: whoever uses it pulls it
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
            .getImage(ref(i))
            .remove({ force: true })
            .catch(() => {});
      }
      lab.close();
    });

    let v1: string;
    test('v1, with no window, is applied at once', async () => {
      writeExample('v1');
      git('add', '-A');
      git('commit', '-q', '-m', 'system v1');
      v1 = git('rev-parse', 'HEAD');
      git('push', '-q', 'origin', 'main');
      agent = new AgentProcess(
        lab.stateDir,
        [
          ...['--repo', server.url('fleet.git'), '--ref', 'main', '--id', 'gw-0042', '--label', 'role=gateway'],
          ...['--interfaces-dir', join(projectRoot, 'fleet-repo-example/interfaces')],
          ...['--docker-host', `unix://${env!.socket}`, '--interval', '1s', '--jitter', '0s'],
        ],
        { ROLLGATE_BOOT_ID_FILE: lab.bootIdFile },
      );
      const s = await agent.until('v1 applied', (x) => x.lastGood?.commit === v1 || x.bad.length > 0, 300_000);
      assert.deepEqual(s.bad, []);
      assert.equal(await inEngine('api:2.0'), false, 'v2 images are not on the gateway yet');
      assert.equal(cached('gateway-v2.mender'), false);
    });

    let v2: string;
    let opens: Date;
    let closes: number;
    test('v2 waits for its window: its images and artifacts are downloaded meanwhile, nothing replaced', async () => {
      lab.clearCalls();
      const before = await containers();
      opens = new Date(Math.ceil((Date.now() + OPENS_IN_MS) / 1000) * 1000);
      closes = opens.getTime() + 60_000;
      const cron = `${opens.getUTCSeconds()} ${opens.getUTCMinutes()} ${opens.getUTCHours()} * * *`;
      const window =
        `    window:\n      time_zone: UTC\n      expected_duration: 30s\n      open:\n` +
        `        - { cron: "${cron}", duration: ${OPEN_FOR} }\n`;
      // First the window alone: it gives the gateway nothing new to run, so it is not held.
      writeExample('v1', window);
      git('add', '-A');
      git('commit', '-q', '-m', 'a maintenance window for the gateways');
      const windowed = git('rev-parse', 'HEAD');
      git('push', '-q', 'origin', 'main');
      await agent.until('the window commit applied', (x) => x.lastGood?.commit === windowed || x.bad.length > 0);
      assert.ok(Date.now() < opens.getTime(), 'it went at once, with the window closed');
      await agent.waitForLog(/is what the last good commit \w+ gave this gateway: a return is not held by the window/);

      writeExample('v2', window);
      git('add', '-A');
      git('commit', '-q', '-m', 'system v2, in the window');
      v2 = git('rev-parse', 'HEAD');
      git('push', '-q', 'origin', 'main');

      const s = await agent.until(
        'v2 downloaded, waiting for its window',
        (x) => x.deferred?.commit === v2 && /^(downloaded|not downloaded)/.test(x.deferred.detail),
        OPENS_IN_MS - 10_000,
      );
      assert.ok(Date.now() < opens.getTime(), 'all this while the window is still closed');
      const opensText = `${opens.toISOString().slice(0, 10)} ${opens.toISOString().slice(11, 19)} UTC`;
      assert.match(
        s.deferred!.detail,
        new RegExp(`^downloaded \\(2 images and 2 artifacts\\), waiting for the window that opens at ${opensText}`),
      );
      assert.equal(s.deferred?.gate, 'window');
      assert.deepEqual(s.bad, [], 'a deferral is never a bad commit');
      assert.equal(s.applied?.commit, windowed, 'the gateway keeps what it ran');
      for (const i of ['collector:2.0', 'api:2.0'])
        assert.ok(await inEngine(i), `${i} is in the Engine before the window`);
      assert.ok(cached('gateway-v2.mender') && cached('rtos-v2.mender'), "v2's artifacts are in the cache");
      assert.deepEqual(await containers(), before, 'no container was replaced, stopped or made');
      assert.deepEqual(deviceCalls(), [], 'no interface was given anything');
      assert.deepEqual(lab.running(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' });
      const status = await rollgate('status', '--state-dir', lab.stateDir);
      assert.match(status.out, /at the window gate .*downloaded \(2 images and 2 artifacts\), waiting for the window/);
      assert.ok(Date.now() < opens.getTime(), 'still before the window opened');

      const done = await agent.until('v2 applied', (x) => x.lastGood?.commit === v2 || x.bad.length > 0, 180_000);
      assert.deepEqual(done.bad, []);
      assert.ok(Date.parse(done.applied!.at) >= opens.getTime(), 'applied in the window');
      const steps = lastHistory(done, v2)?.steps ?? [];
      assert.ok(
        steps.some((x) => /^install component\//.test(x)),
        steps.join(', '),
      );
      assert.deepEqual(
        steps.filter((x) => x.startsWith('pull ')),
        [],
        'the install in the window uses what was pulled ahead',
      );
      assert.deepEqual(lab.running(), { G13: 'gateway-v2', R456: 'rtos-v2', R998: 'rtos-v2' });
    });

    test('after the window closed, a git revert of v2 is not held: the gateway goes back at once', async () => {
      const wait = closes + 1000 - Date.now();
      if (wait > 0) await sleep(wait);
      git('revert', '--no-edit', v2);
      const revert = git('rev-parse', 'HEAD');
      git('push', '-q', 'origin', 'main');
      const pushed = Date.now();
      const s = await agent.until(
        'the revert applied or refused',
        (x) => x.lastGood?.commit === revert || x.bad.length > 0 || x.deferred?.commit === revert,
        240_000,
      );
      assert.equal(s.deferred, undefined, `the revert was not deferred: ${s.deferred?.detail}`);
      assert.deepEqual(s.bad, []);
      assert.equal(s.lastGood?.commit, revert);
      assert.ok(Date.parse(s.applied!.at) >= pushed, 'the revert ran after the window had closed');
      assert.deepEqual(lab.running(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' });
      const c = await containers();
      assert.match(c.api!, /^1\.0 \(running\)/);
      await agent.waitForLog(
        /is what the earlier good commit \w+ gave this gateway: a return is not held by the window/,
      );
    });
  },
);
