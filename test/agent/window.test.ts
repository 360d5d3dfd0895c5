// A maintenance window with a real agent: `rollgate agent` as a process, a real git http-backend,
// the example's update interfaces on simulated A/B devices. System v1 runs; v2 is committed with a
// window that opens some seconds later: the agent defers it at the window gate (nothing bad, no
// device touched, `rollgate status` says what it waits for), and installs it once the window opens.

import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentProcess } from '../helpers/agent-process.js';
import { atRest } from '../helpers/agent-rest.js';
import { rollgate } from '../helpers/cli.js';
import { DeviceLab, requireMenderTools } from '../helpers/devices.js';
import { projectRoot, run } from '../helpers/fixtures.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { MODULE_TRACE_ARGS, MODULE_TRACE_ENV, workersLoaded } from '../helpers/module-trace.js';

const missing = requireMenderTools();

describe('a maintenance window with a real agent: the commit waits, then applies', { skip: missing ?? false }, () => {
  const lab = new DeviceLab();
  const work = join(lab.root, 'fleet');
  const srv = join(lab.root, 'srv');
  const trace = join(lab.root, 'trace');
  let server: GitServer;
  let agent: AgentProcess;
  const git = (...args: string[]) => run('git', ['-C', work, ...args]);

  /** The example at v1 or v2 on this lab's devices, without the app; `window` goes on the gateways' target. */
  function writeExample(version: 'v1' | 'v2', window = ''): void {
    for (const entry of readdirSync(work))
      if (entry !== '.git') rmSync(join(work, entry), { recursive: true, force: true });
    cpSync(join(projectRoot, 'fleet-repo-example'), work, { recursive: true });
    if (version === 'v1') cpSync(join(projectRoot, 'examples/story/v1'), work, { recursive: true });
    rmSync(join(work, 'systems/gateway/apps'), { recursive: true, force: true });
    const fleet = join(work, 'rollgate.yaml');
    writeFileSync(
      fleet,
      readFileSync(fleet, 'utf8')
        .replace(/\n {4}apps:\n {6}edge: [^\n]*/, '')
        .replace(/\n {4}overrides:(\n {6}.*)+/, '')
        .replace('    match: { labels: { role: gateway } }\n', `    match: { labels: { role: gateway } }\n${window}`),
    );
    const manifest = join(work, 'systems/gateway/manifest.yaml');
    writeFileSync(manifest, readFileSync(manifest, 'utf8').replaceAll('/var/lib/rollgate-example/', `${lab.devices}/`));
    writeFileSync(
      join(work, 'systems/gateway/health.yaml'),
      'apiVersion: rollgate/v1\nkind: Health\nwindow: 600ms\ndeadline: 30s\ndefaults: { interval: 150ms, ' +
        `timeout: 2s, failureThreshold: 2 }\nchecks:\n  - name: gateway-running\n    command: { argv: [test, ` +
        `-s, ${JSON.stringify(join(lab.devices, 'G13/running'))}] }\n`,
    );
  }
  const installs = () => lab.calls().filter((c) => / (ArtifactInstall|ArtifactCommit)$/.test(c));

  before(async () => {
    lab.seed((t) => `${t}-v1`);
    run('git', ['init', '-q', '--bare', '-b', 'main', join(srv, 'fleet.git')]);
    run('git', ['init', '-q', '-b', 'main', work]);
    git('remote', 'add', 'origin', join(srv, 'fleet.git'));
    server = await startGitServer(srv);
  });
  after(async () => {
    await agent?.kill();
    await server?.close();
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
        '--interval',
        '1s',
        '--jitter',
        '0s',
      ],
      { ROLLGATE_BOOT_ID_FILE: lab.bootIdFile, [MODULE_TRACE_ENV]: trace },
      MODULE_TRACE_ARGS,
    );
    await agent.until('v1 applied', (x) => x.lastGood?.commit === v1, 180_000);
  });

  test('v2 waits for its window (deferred, nothing touched, status says until when), then applies', async () => {
    lab.clearCalls();
    // The window opens 25 s from now (a cron with seconds, in UTC) and stays open an hour.
    const opens = new Date(Math.ceil((Date.now() + 25_000) / 1000) * 1000);
    const cron = `${opens.getUTCSeconds()} ${opens.getUTCMinutes()} ${opens.getUTCHours()} * * *`;
    writeExample(
      'v2',
      `    window:\n      time_zone: UTC\n      expected_duration: 1m\n      open:\n` +
        `        - { cron: "${cron}", duration: 1h }\n`,
    );
    git('add', '-A');
    git('commit', '-q', '-m', 'system v2, in the window');
    const v2 = git('rev-parse', 'HEAD');
    git('push', '-q', 'origin', 'main');

    const waiting = await agent.until('v2 deferred at the window gate', (x) => x.deferred?.commit === v2, 60_000);
    assert.equal(waiting.deferred?.gate, 'window');
    const opensText = `${opens.toISOString().slice(0, 10)} ${opens.toISOString().slice(11, 19)} UTC`;
    assert.match(waiting.deferred!.detail, new RegExp(`waiting for the window that opens at ${opensText}`));
    assert.equal(waiting.applied?.commit, v1, 'the gateway keeps v1 meanwhile');
    assert.deepEqual(waiting.bad, [], 'a deferral is never a bad commit');
    assert.deepEqual(installs(), [], 'no device is touched outside the window');
    // Downloaded, it waits without a worker: the resident part answers the polls until the window opens.
    await agent.until(
      'v2 downloaded ahead of its window',
      (x) => /downloaded \(/.test(x.deferred?.detail ?? ''),
      60_000,
    );
    for (let i = 0; i < 100 && agent.workerPids().length > 0; i++) await sleep(50);
    const workers = workersLoaded(trace).size;
    await atRest(agent, 5);
    assert.equal(workersLoaded(trace).size, workers, 'five polls while waiting for the window, and no worker');
    assert.ok(Date.now() < opens.getTime(), 'the window was still closed for those polls');
    const status = await rollgate('status', '--state-dir', lab.stateDir);
    assert.match(status.out, /deferred .* at the window gate .*waiting for the window that opens at/);

    const s = await agent.until('v2 applied', (x) => x.lastGood?.commit === v2, 180_000);
    assert.deepEqual(s.bad, []);
    assert.equal(s.deferred, undefined, 'the deferral is over');
    assert.deepEqual(lab.running(), { G13: 'gateway-v2', R456: 'rtos-v2', R998: 'rtos-v2' });
    const started = Date.parse(s.applied!.at);
    assert.ok(
      started >= opens.getTime(),
      `applied at ${s.applied!.at}, not before the window opened at ${opens.toISOString()}`,
    );
  });
});
