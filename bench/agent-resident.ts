// The floor of a resident agent that hands the commit's lifecycle to a child process (issue 26):
// a process that holds only what rest needs — the state store, the control socket, the metrics
// (prom-client), the logger (pino), the hub reporter's modules and the poll (ls-refs over
// node:http) — and polls the same git server as `bench/agent-idle.ts` measures the agent against,
// with the same method (warm-up polls, then VmRSS sampled every second, VmHWM for the peak).
// It is what the parent of the split would cost at rest before it is built, so the design is
// judged on a measurement; BENCH_RESIDENT_CONFIG=1 adds the configuration's loader (the validators
// built from its schema, yaml, croner), to price loading the configuration in the parent rather
// than in the child. The process itself is ./agent-resident-process.ts, which imports nothing else.
// Prints Markdown; BENCHMARKS.md holds the recorded figures.

import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { pushDevicesFleet } from '../test/helpers/devices-fleet.js';
import { tempDir } from '../test/helpers/fixtures.js';
import { startGitServer } from '../test/helpers/git-server.js';
import { median } from './common.js';

const POLLS = Number(process.env['BENCH_POLLS'] ?? 300);
const WARMUP = Number(process.env['BENCH_WARMUP_POLLS'] ?? 50);

function proc(pid: number): { cpuTicks: number; rssKb: number; hwmKb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { cpuTicks: Number(rest[11]) + Number(rest[12]), rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

async function polls(metrics: string): Promise<number> {
  const text = await (await fetch(metrics)).text();
  return Number(/rollgate_polls_total\{result="unchanged"\} (\d+)/.exec(text)?.[1] ?? 0);
}

async function main(): Promise<void> {
  const root = tempDir('bench-agent-resident-');
  const srv = join(root, 'srv');
  pushDevicesFleet(srv);
  const server = await startGitServer(srv);
  const nodeArgs = (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      fileURLToPath(new URL('./agent-resident-process.js', import.meta.url)),
      server.url('fleet.git'),
      join(root, 'state'),
    ],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  try {
    const metrics = await new Promise<string>((resolve, reject) => {
      child.once('message', (m) => resolve((m as { metrics: string }).metrics));
      child.once('exit', (code) => reject(new Error(`the resident process exited ${code}`)));
    });
    while ((await polls(metrics)) < WARMUP) await sleep(500);
    const a = proc(child.pid!);
    const pa = await polls(metrics);
    const rss: number[] = [];
    let pb = pa;
    while (pb < pa + POLLS) {
      await sleep(1000);
      rss.push(proc(child.pid!).rssKb);
      pb = await polls(metrics);
    }
    const b = proc(child.pid!);
    const mb = (kb: number) => (kb / 1024).toFixed(1);
    const tick = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
    console.log(
      `resident floor${process.env['BENCH_RESIDENT_CONFIG'] === '1' ? ' + configuration loader' : ''}` +
        `${nodeArgs.length ? ` (node ${nodeArgs.join(' ')})` : ''}: ${pb - pa} polls, ` +
        `CPU per poll ${(((b.cpuTicks - a.cpuTicks) * tick) / (pb - pa)).toFixed(2)} ms, ` +
        `RSS median ${mb(median(rss))} MB (${mb(Math.min(...rss))}–${mb(Math.max(...rss))}), peak ${mb(b.hwmKb)} MB`,
    );
  } finally {
    child.kill('SIGKILL');
    await server.close();
  }
}

await main();
