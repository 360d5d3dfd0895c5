// The agent at rest: memory (RSS) and CPU per poll when the branch has not moved, against the
// plainest poller there is, `git ls-remote <url> refs/heads/main` once per poll, in the same run
// against the same git smart-HTTP server. The fleet is the demo's: fleet-repo-example's three
// devices (apps left out, so no Docker Engine is needed), applied once before measuring.
// Prints Markdown; BENCHMARKS.md holds the recorded figures and the method.

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentProcess } from '../test/helpers/agent-process.js';
import { ExampleCopy, FLEET, HEALTH, MANIFEST } from '../test/helpers/example-copy.js';
import { projectRoot, tempDir } from '../test/helpers/fixtures.js';
import { startGitServer, type GitServer } from '../test/helpers/git-server.js';

const POLLS = Number(process.env['BENCH_POLLS'] ?? 300);
const WARMUP = Number(process.env['BENCH_WARMUP_POLLS'] ?? 50);
const INTERVAL = process.env['BENCH_INTERVAL'] ?? '200ms';
const PEER_POLLS = Number(process.env['BENCH_PEER_POLLS'] ?? 100);
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

/** The fleet of the demo, committed and pushed to a bare repository the server serves. */
function fleet(srv: string): void {
  const ex = new ExampleCopy();
  const devices = tempDir('bench-devices-');
  ex.edit(FLEET, /\n {4}apps:\n {6}edge: [^\n]*/, '').edit(FLEET, /\n {4}overrides:(\n {6}.*)+/, '');
  ex.write(MANIFEST, ex.read(MANIFEST).replaceAll('/var/lib/rollgate-example/', `${devices}/`));
  ex.write(
    HEALTH,
    `apiVersion: rollgate/v1\nkind: Health\nwindow: 1s\ndeadline: 30s\ndefaults: { interval: 250ms, timeout: 1s ` +
      `}\nchecks:\n  - name: gateway-running\n    command: { argv: [test, -s, ${devices}/G13/running] }\n`,
  );
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=Ops', '-c', 'user.email=ops@example.com', ...args], { cwd: ex.dir });
  mkdirSync(srv, { recursive: true });
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', join(srv, 'fleet.git')]);
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'system v2');
  git('push', '-q', join(srv, 'fleet.git'), 'main');
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
  rssMaxKb: number;
  hwmKb: number;
  afterApplyKb: number;
}

/** The agent with these node options: the fleet applied, WARMUP polls, then POLLS measured. */
async function measureAgent(server: GitServer, root: string, nodeArgs: string[]): Promise<Idle> {
  const agent = new AgentProcess(
    join(root, `state-${Date.now()}`),
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
      INTERVAL,
      '--jitter',
      '0s',
      '--drift-check',
      '1h',
    ],
    {},
    nodeArgs,
  );
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
    return {
      polls: n,
      cpuMsPerPoll: (b.cpuMs - a.cpuMs) / n,
      requestsPerPoll: t.requests / n,
      bytesPerPoll: t.bytes / n,
      rssMinKb: Math.min(...rss),
      rssMaxKb: Math.max(...rss),
      hwmKb: b.hwmKb,
      afterApplyKb: afterApply.rssKb,
    };
  } finally {
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
  fleet(srv);
  const server = await startGitServer(srv);
  try {
    // BENCH_NODE_ARGS: options for the agent's node (V8 flags), to try memory settings.
    const nodeArgs = (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const agent = await measureAgent(server, root, nodeArgs);
    const peer = await measurePeer(server);

    const mb = (kb: number) => (kb / 1024).toFixed(1);
    const git = execFileSync('git', ['--version']).toString().trim();
    console.log(
      `rollgate agent${nodeArgs.length ? ` (node ${nodeArgs.join(' ')})` : ''}, ` +
        `interval ${INTERVAL}, ${agent.polls} polls measured after ${WARMUP} warm-up polls; ` +
        `peer: ${git}, ${PEER_POLLS} runs\n`,
    );
    console.log(
      '| poller | CPU per poll (ms) | ratio | requests per poll | bytes per poll | resident memory at rest (MB) ' +
        '| peak (MB) |',
    );
    console.log('|---|---|---|---|---|---|---|');
    console.log(
      `| rollgate agent (one process) | ${agent.cpuMsPerPoll.toFixed(2)} ` +
        `| ${(agent.cpuMsPerPoll / peer.cpuMsPerPoll).toFixed(2)}× | ${agent.requestsPerPoll.toFixed(2)} ` +
        `| ${agent.bytesPerPoll.toFixed(0)} | ${mb(agent.rssMinKb)}–${mb(agent.rssMaxKb)} | ${mb(agent.hwmKb)} |`,
    );
    console.log(
      `| git ls-remote (a process per poll) | ${peer.cpuMsPerPoll.toFixed(2)} | 1.00× ` +
        `| ${peer.requestsPerPoll.toFixed(2)} | ${peer.bytesPerPoll.toFixed(0)} | — ` +
        `| ${mb(peer.maxRssKb)} (one run) |`,
    );
    console.log(`\nagent RSS right after the first apply: ${mb(agent.afterApplyKb)} MB`);
  } finally {
    await server.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
