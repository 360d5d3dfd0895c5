// The process bench/agent-resident.ts measures: only the modules a resident agent needs at rest
// (no test helper, no other module of this bench), polling until it is killed. Its metrics' URL
// goes to the parent over IPC.

import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const INTERVAL_MS = Number(process.env['BENCH_INTERVAL_MS'] ?? 200);

/** The resident process: polls until killed, counting polls in its metrics. */
async function resident(url: string, stateDir: string): Promise<void> {
  const { AgentMetrics } = await import('../src/agent/metrics.js');
  const { StateStore } = await import('../src/agent/state.js');
  const { serveControl } = await import('../src/agent/control.js');
  const { agentLogger } = await import('../src/agent/logger.js');
  await import('../src/report/index.js');
  const { CountingHttpClient } = await import('../src/sync/http-client.js');
  const { lsRemoteRef } = await import('../src/sync/ls-refs.js');
  if (process.env['BENCH_RESIDENT_CONFIG'] === '1') await import('../src/agent/config.js');
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const log = agentLogger('info', 'bench', '/dev/null');
  const state = await StateStore.open(stateDir);
  const metrics = new AgentMetrics();
  const { address } = await metrics.serve('127.0.0.1:0');
  await serveControl(stateDir, {
    sync: () => Promise.reject(new Error('no')),
    forget: () => Promise.reject(new Error('no')),
    live: () => ({}),
  });
  process.send?.({ metrics: `http://${address}/metrics` });
  let n = 0;
  for (;;) {
    const http = new CountingHttpClient({
      timeoutMs: 60_000,
      idleTimeoutMs: 20_000,
      headers: {},
      userAgent: 'git/rollgate',
    });
    const commit = await lsRemoteRef(http, url, 'refs/heads/main');
    // The branch of this bench never moves: every poll is an idle one, compared with the state as the agent does.
    metrics.polls.inc({ result: 'unchanged' });
    log.debug({ commit, applied: state.current.applied?.commit }, 'polled');
    if (process.env['BENCH_RESIDENT_HEAP'] === '1' && ++n % 50 === 0) {
      const m = process.memoryUsage();
      const f = (b: number) => (b / 1048576).toFixed(1);
      console.error(
        `poll ${n}: rss ${f(m.rss)} heapTotal ${f(m.heapTotal)} heapUsed ${f(m.heapUsed)} external ${f(m.external)}`,
      );
    }
    await sleep(INTERVAL_MS);
  }
}

await resident(process.argv[2]!, process.argv[3]!);
