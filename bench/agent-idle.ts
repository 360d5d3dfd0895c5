// The agent at rest: memory (RSS) and CPU per poll when the branch has not moved, against the
// plainest poller there is, `git ls-remote <url> refs/heads/main` once per poll, in the same run
// against the same git smart-HTTP server. The fleet is the demo's: fleet-repo-example's three
// devices (apps left out, so no Docker Engine is needed), applied once before measuring. With
// BENCH_ENGINE=1 a private Docker Engine runs beside it (as on most gateways; run it under
// `flock /tmp/rollgate-docker.lock`), and the agent is given its socket. BENCH_APP_SERVICES=10 adds
// an app of that many sleeping services (images through the test registry), so the Engine too.
// Prints Markdown; BENCHMARKS.md holds the recorded figures and the method.

import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentProcess } from '../test/helpers/agent-process.js';
import { DEVICES_FLEET_AGENT_ARGS, pushDevicesFleet } from '../test/helpers/devices-fleet.js';
import { DockerEnv, startDockerEnv, stopDockerEnv } from '../test/helpers/docker-env.js';
import { tempDir } from '../test/helpers/fixtures.js';
import { median } from './common.js';
import { startGitServer, type GitServer } from '../test/helpers/git-server.js';

const POLLS = Number(process.env['BENCH_POLLS'] ?? 300);
const WARMUP = Number(process.env['BENCH_WARMUP_POLLS'] ?? 50);
const INTERVAL = process.env['BENCH_INTERVAL'] ?? '200ms';
const PEER_POLLS = Number(process.env['BENCH_PEER_POLLS'] ?? 100);
const APP_SERVICES = Number(process.env['BENCH_APP_SERVICES'] ?? 0);
const TICK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

interface Proc {
  cpuMs: number;
  rssKb: number;
  hwmKb: number;
}

function proc(pid: number): Proc {
  // utime and stime are fields 14 and 15; the fields after the command's closing parenthesis start at 3.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { cpuMs: ((Number(rest[11]) + Number(rest[12])) * 1000) / TICK, rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

function capture(cmd: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

async function polls(metrics: string): Promise<number> {
  const text = await (await fetch(metrics)).text();
  return Number(/rollgate_polls_total\{result="unchanged"\} (\d+)/.exec(text)?.[1] ?? 0);
}

const traffic = (server: GitServer, from: number) => {
  const rs = server.requests.slice(from);
  return { requests: rs.length, bytes: rs.reduce((n, r) => n + r.bytesIn + r.bytesOut, 0) };
};

interface Idle {
  polls: number;
  cpuMsPerPoll: number;
  requestsPerPoll: number;
  bytesPerPoll: number;
  rssMinKb: number;
  rssMedianKb: number;
  rssMaxKb: number;
  hwmKb: number;
  afterApplyKb: number;
  /** The first and the last second's sample: a long run (BENCH_POLLS=20000) shows whether it stays flat. */
  rssFirstKb: number;
  rssLastKb: number;
  /** The agent's worker processes (the apply, at rest none): how many ran, and the highest peak (VmHWM) of one. */
  workers: number;
  workerPeakKb: number;
}

/**
 * Watches the agent's workers while it runs: each one's peak resident memory, read from /proc
 * while it lives (a worker lives for a second or so, so it is looked at often).
 */
function watchWorkers(agent: AgentProcess): { stop(): { workers: number; peakKb: number } } {
  const peaks = new Map<number, number>();
  const look = () => {
    for (const pid of agent.workerPids()) {
      try {
        peaks.set(pid, Math.max(peaks.get(pid) ?? 0, proc(pid).hwmKb));
      } catch {
        // ended meanwhile
      }
    }
  };
  const timer = setInterval(look, 25);
  return {
    stop: () => {
      clearInterval(timer);
      return { workers: peaks.size, peakKb: Math.max(0, ...peaks.values()) };
    },
  };
}

/** The agent with these node options: the fleet applied, WARMUP polls, then POLLS measured. */
async function measureAgent(server: GitServer, root: string, nodeArgs: string[], extra: string[]): Promise<Idle> {
  const agent = new AgentProcess(
    join(root, `state-${Date.now()}`),
    [
      '--repo',
      server.url('fleet.git'),
      ...DEVICES_FLEET_AGENT_ARGS,
      ...extra,
      '--interval',
      INTERVAL,
      '--jitter',
      '0s',
      '--drift-check',
      '1h',
    ],
    {},
    nodeArgs,
  );
  // The agent's figure is its resident part's (agent.pid, the process the CLI started); its workers apart.
  const workers = watchWorkers(agent);
  try {
    const metrics = String((await agent.waitForLog(/rollgate agent started/))['metrics']);
    await agent.until('the fleet applied', (s) => s.lastGood !== undefined, 120_000);
    const afterApply = proc(agent.pid);
    const p0 = await polls(metrics);
    while ((await polls(metrics)) < p0 + WARMUP) await sleep(1000);
    const a = proc(agent.pid);
    const pa = await polls(metrics);
    const ra = server.requests.length;
    const rss: number[] = [];
    let pb = pa;
    while (pb < pa + POLLS) {
      await sleep(1000);
      if (!agent.running) throw new Error(`the agent exited:\n${agent.text()}`);
      rss.push(proc(agent.pid).rssKb);
      pb = await polls(metrics);
    }
    const b = proc(agent.pid);
    const t = traffic(server, ra);
    const n = pb - pa;
    const w = workers.stop();
    return {
      workers: w.workers,
      workerPeakKb: w.peakKb,
      polls: n,
      cpuMsPerPoll: (b.cpuMs - a.cpuMs) / n,
      requestsPerPoll: t.requests / n,
      bytesPerPoll: t.bytes / n,
      rssMinKb: Math.min(...rss),
      rssMedianKb: median(rss),
      rssMaxKb: Math.max(...rss),
      hwmKb: b.hwmKb,
      afterApplyKb: afterApply.rssKb,
      rssFirstKb: rss[0]!,
      rssLastKb: rss[rss.length - 1]!,
    };
  } finally {
    workers.stop();
    await agent.stop();
  }
}

/** The peer: git ls-remote, one process per poll, as a cron job or a shell loop runs it. */
async function measurePeer(
  server: GitServer,
): Promise<{ cpuMsPerPoll: number; maxRssKb: number; requestsPerPoll: number; bytesPerPoll: number }> {
  const from = server.requests.length;
  // Asynchronously: the git server runs in this process.
  const py = await capture('python3', [
    '-c',
    `
import resource, subprocess, sys
for _ in range(int(sys.argv[2])):
    subprocess.run(["git", "ls-remote", sys.argv[1], "refs/heads/main"], check=True, stdout=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print((r.ru_utime + r.ru_stime) * 1000, r.ru_maxrss)
`,
    server.url('fleet.git'),
    String(PEER_POLLS),
  ]);
  if (py.status !== 0) throw new Error(`git ls-remote failed: ${py.stderr}`);
  const [cpuMs, maxRssKb] = py.stdout.trim().split(' ').map(Number) as [number, number];
  const t = traffic(server, from);
  return {
    cpuMsPerPoll: cpuMs / PEER_POLLS,
    maxRssKb,
    requestsPerPoll: t.requests / PEER_POLLS,
    bytesPerPoll: t.bytes / PEER_POLLS,
  };
}

async function main() {
  const root = tempDir('bench-agent-idle-');
  const srv = join(root, 'srv');
  const engine = process.env['BENCH_ENGINE'] === '1' || APP_SERVICES > 0 ? await startDockerEnv() : undefined;
  const image =
    engine && APP_SERVICES > 0
      ? await new DockerEnv(engine, join(engine.root, 'env.json')).image('bench/idle', '1')
      : undefined;
  pushDevicesFleet(srv, image ? { app: { image, services: APP_SERVICES } } : {});
  const server = await startGitServer(srv);
  try {
    // BENCH_NODE_ARGS: options for the agent's node (V8 flags), to try memory settings.
    const nodeArgs = (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const extra = engine ? ['--docker-host', `unix://${engine.socket}`] : [];
    const agent = await measureAgent(server, root, nodeArgs, extra);
    const peer = await measurePeer(server);

    const mb = (kb: number) => (kb / 1024).toFixed(1);
    const git = execFileSync('git', ['--version']).toString().trim();
    console.log(
      `rollgate agent${nodeArgs.length ? ` (node ${nodeArgs.join(' ')})` : ''}` +
        `${engine ? ', a Docker Engine beside it' : ''}` +
        `${APP_SERVICES ? `, an app of ${APP_SERVICES} services` : ''}, ` +
        `interval ${INTERVAL}, ${agent.polls} polls measured after ${WARMUP} warm-up polls; ` +
        `peer: ${git}, ${PEER_POLLS} runs\n`,
    );
    console.log(
      '| poller | CPU per poll (ms) | ratio | requests per poll | bytes per poll | resident memory at rest, median ' +
        '(min–max) (MB) | peak (MB) |',
    );
    console.log('|---|---|---|---|---|---|---|');
    console.log(
      `| rollgate agent (its resident part) | ${agent.cpuMsPerPoll.toFixed(2)} ` +
        `| ${(agent.cpuMsPerPoll / peer.cpuMsPerPoll).toFixed(2)}× | ${agent.requestsPerPoll.toFixed(2)} ` +
        `| ${agent.bytesPerPoll.toFixed(0)} | ${mb(agent.rssMedianKb)} (${mb(agent.rssMinKb)}–${mb(agent.rssMaxKb)}) ` +
        `| ${mb(agent.hwmKb)} |`,
    );
    console.log(
      `| git ls-remote (a process per poll) | ${peer.cpuMsPerPoll.toFixed(2)} | 1.00× ` +
        `| ${peer.requestsPerPoll.toFixed(2)} | ${peer.bytesPerPoll.toFixed(0)} | — ` +
        `| ${mb(peer.maxRssKb)} (one run) |`,
    );
    console.log(`\nagent RSS right after the first apply: ${mb(agent.afterApplyKb)} MB`);
    console.log(
      `the agent's workers: ${agent.workers} ran (start, first apply; none at rest), ` +
        `the highest peak of one ${mb(agent.workerPeakKb)} MB`,
    );
    console.log(
      `agent RSS at the first and the last measured second: ${mb(agent.rssFirstKb)}, ${mb(agent.rssLastKb)} MB`,
    );
  } finally {
    await server.close();
    if (engine) await stopDockerEnv(join(engine.root, 'env.json'));
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
