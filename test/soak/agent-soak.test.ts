// The agent over a long run, as issue 26 asks: at least 20,000 polls and 200 reconciles, with the
// schedule scaled down (polls every few milliseconds instead of every minute), on the demo's
// devices-only fleet behind a real git smart-HTTP server. Each reconcile is real work: a commit
// that moves the gateway and both RTOS devices between v1 and v2 through the example's update interface, health
// checked. The resident process's RSS at the end must be within 5 MB of its RSS at the start.
// Runs only with ROLLGATE_SOAK=1 (scripts/run-tests.mjs): 12–16 minutes on 2 cores.
// SOAK_POLLS, SOAK_RECONCILES, SOAK_WINDOW (seconds), SOAK_INTERVAL and SOAK_NODE_ARGS change its size
// and node's flags.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentProcess } from '../helpers/agent-process.js';
import { DEVICES_FLEET_AGENT_ARGS, pushDevicesFleet } from '../helpers/devices-fleet.js';
import { MANIFEST } from '../helpers/example-copy.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';
import { startGitServer } from '../helpers/git-server.js';

const POLLS = Number(process.env['SOAK_POLLS'] ?? 20_000);
const RECONCILES = Number(process.env['SOAK_RECONCILES'] ?? 200);
const INTERVAL = process.env['SOAK_INTERVAL'] ?? '20ms';
// The flags systemd/rollgate.service gives the resident agent.
const NODE_ARGS = (process.env['SOAK_NODE_ARGS'] ?? '--jitless --max-semi-space-size=1').split(' ').filter(Boolean);
/** How many samples (one a second) make "the start" and "the end": a median over a minute each. */
const WINDOW = Number(process.env['SOAK_WINDOW'] ?? 60);
const MB = 1024;

function rssKb(pid: number, key: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function counters(metrics: string): Promise<{ polls: number; reconciles: number }> {
  const text = await (await fetch(metrics)).text();
  const sum = (name: string) =>
    [...text.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\d+)`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
  return { polls: sum('rollgate_polls_total'), reconciles: sum('rollgate_reconciles_total') };
}

const dirs: string[] = [];
after(() => dirs.forEach(cleanup));

test(`soak: ${POLLS} polls and ${RECONCILES} reconciles, resident memory flat`, { timeout: 3 * 3600_000 }, async () => {
  const root = tempDir('rollgate-soak-');
  dirs.push(root);
  const srv = join(root, 'srv');
  const made = pushDevicesFleet(srv);
  dirs.push(...made);
  const work = made[0]!;
  const server = await startGitServer(srv);
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=Ops', '-c', 'user.email=ops@example.com', ...args], { cwd: work })
      .toString()
      .trim();
  const agent = new AgentProcess(
    join(root, 'state'),
    [
      '--repo',
      server.url('fleet.git'),
      ...DEVICES_FLEET_AGENT_ARGS,
      '--interval',
      INTERVAL,
      '--jitter',
      '0s',
      '--drift-check',
      '1h',
    ],
    {},
    NODE_ARGS,
  );
  try {
    const metrics = String((await agent.waitForLog(/rollgate agent started/))['metrics']);
    await agent.until('the first commit applied', (s) => s.lastGood !== undefined, 300_000);
    const samples: number[] = [];
    let version = 2;
    let applied = 0;
    let last = await counters(metrics);
    const pollsPerReconcile = Math.max(1, Math.floor(POLLS / RECONCILES));
    const started = last;
    while (last.polls - started.polls < POLLS || applied < RECONCILES) {
      if (!agent.running) throw new Error(`the agent exited:\n${agent.text()}`);
      samples.push(rssKb(agent.pid));
      const due = applied < RECONCILES && last.polls - started.polls >= applied * pollsPerReconcile;
      if (due) {
        // The whole system to the other version: a commit the agent installs, checks and keeps.
        version = version === 2 ? 1 : 2;
        const text = readFileSync(join(work, MANIFEST), 'utf8').replace(/-v\d\.mender/g, `-v${version}.mender`);
        writeFileSync(join(work, MANIFEST), text);
        git('commit', '-q', '-am', `system v${version} (${applied + 1})`);
        git('push', '-q', join(srv, 'fleet.git'), 'main');
        const commit = git('rev-parse', 'HEAD');
        const s = await agent.until(
          `commit ${applied + 1} applied`,
          (st) => st.lastGood?.commit === commit || st.bad.some((b) => b.commit === commit),
          300_000,
        );
        assert.equal(s.lastGood?.commit, commit, `commit ${applied + 1} (system v${version}) is applied and good`);
        applied++;
      } else await sleep(1000);
      last = await counters(metrics);
    }
    const end = await counters(metrics);
    // The start is a minute into the run: the first reconciles have loaded what every reconcile
    // loads, which is the resident process's working set; growth after that is what a soak is for.
    const first = samples.slice(0, WINDOW);
    const lastWindow = samples.slice(-WINDOW);
    const startMb = median(first) / MB;
    const endMb = median(lastWindow) / MB;
    const peakMb = rssKb(agent.pid, 'VmHWM') / MB;
    console.log(
      `soak: ${end.polls - started.polls} polls, ${end.reconciles - started.reconciles} reconciles, ` +
        `${samples.length} s; RSS (MB) start ${startMb.toFixed(1)}, end ${endMb.toFixed(1)}, ` +
        `min ${(Math.min(...samples) / MB).toFixed(1)}, max ${(Math.max(...samples) / MB).toFixed(1)}, ` +
        `peak ${peakMb.toFixed(1)}; node ${NODE_ARGS.join(' ') || '(no flags)'}`,
    );
    // The path between the two: a leak climbs all the way, a heap settling into its size levels off.
    const minutes: string[] = [];
    for (let i = 0; i < samples.length; i += WINDOW)
      minutes.push((median(samples.slice(i, i + WINDOW)) / MB).toFixed(1));
    console.log(`soak: RSS median of each ${WINDOW} s (MB): ${minutes.join(' ')}`);
    assert.ok(end.polls - started.polls >= POLLS, `at least ${POLLS} polls`);
    assert.ok(end.reconciles - started.reconciles >= RECONCILES, `at least ${RECONCILES} reconciles`);
    const s = agent.state()!;
    assert.equal(s.bad.length, 0, 'no commit of the soak failed');
    assert.ok(samples.length >= 2 * WINDOW, 'the run is long enough for a start and an end window');
    assert.ok(
      Math.abs(endMb - startMb) <= 5,
      `RSS at the end (${endMb.toFixed(1)} MB) is within 5 MB of the start (${startMb.toFixed(1)} MB)`,
    );
  } finally {
    await agent.stop();
    await server.close();
  }
});
