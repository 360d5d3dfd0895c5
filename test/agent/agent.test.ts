// The user stories end to end: a fleet repo pushed to a real Git smart-HTTP server on loopback,
// `rollgate agent` as a separate process, the example's simulated devices behind real `.mender`
// artifacts. Commit to roll out, a failing health check rolled back and never re-applied,
// `git revert`, `rollgate diff` before the push, the git server going away, and kill -9 at
// seeded points of an apply and of a rollback.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { silentLog } from '../../src/base/log.js';
import { endLeftoverGroups } from '../../src/base/process-group.js';
import { AgentProcess, lastHistory, workersIn } from '../helpers/agent-process.js';
import { rollgate } from '../helpers/cli.js';
import { requireMenderTools } from '../helpers/devices.js';
import { FleetLab } from '../helpers/fleet-lab.js';

const missing = requireMenderTools();

describe(
  'the agent end to end: commit, roll out, roll back, revert (real git server, real artifacts)',
  { skip: missing ?? false },
  () => {
    let lab: FleetLab;
    let agent: AgentProcess;
    const commits: string[] = [];

    before(async () => {
      lab = new FleetLab();
      lab.seed((t) => `${t}-v1`);
      lab.init();
      await lab.serve();
    });
    after(async () => {
      await agent?.kill();
      await lab.server.close();
      lab.close();
    });

    test(
      '1. a commit is rolled out, passes health and becomes the last good commit; diff showed its steps ' +
        'before the push',
      async () => {
        lab.write('v2', true);
        const c1 = lab.commit('system v2');
        commits.push(c1);
        const expected = await lab.diffSteps();
        assert.ok(expected.includes('install component/G13') && expected.includes('commit component/R998'));
        lab.push();
        agent = lab.agent({}, ['--interval', '1s']);
        const s = await agent.until('c1 applied', (x) => x.lastGood?.commit === c1);
        assert.equal(s.applied?.commit, c1);
        // Steps of one stage run concurrently, so their order varies; the set is exact.
        assert.deepEqual(
          [...(lastHistory(s, c1)?.steps ?? [])].sort(),
          [...expected].sort(),
          'the agent ran exactly the steps rollgate diff showed',
        );
        lab.expectSettled('v2');
        const st = await rollgate('status', '--state-dir', lab.stateDir, '--output', 'json');
        const status = JSON.parse(st.out) as { agent: { pid: number } | null; lastGood: { commit: string } };
        assert.equal(status.agent?.pid, agent.pid);
        assert.equal(status.lastGood.commit, c1);
        const metrics = await (await fetch(await agent.metricsUrl())).text();
        assert.match(metrics, new RegExp(`rollgate_commit_info\\{role="last_good",commit="${c1}"\\} 1`));
        assert.match(metrics, /rollgate_reconciles_total\{result="applied"\} 1/);
      },
    );

    test('idle: a poll when nothing changed is one request to the git server', async () => {
      const before = lab.server.requests.length;
      const url = await agent.metricsUrl();
      const polls = async () =>
        Number(/rollgate_polls_total\{result="unchanged"\} (\d+)/.exec(await (await fetch(url)).text())?.[1] ?? 0);
      // Counted just after a poll ended (its counter moved), when no poll is in flight: a poll's request
      // reaches the server before its counter moves, so reading both mid-poll would count it on one side only.
      const justPolled = async (): Promise<[number, number]> => {
        const start = await polls();
        for (;;) {
          const p = await polls();
          if (p !== start) return [p, lab.server.requests.length];
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      const [p0, r0] = await justPolled();
      await agent.waitForLog(/^$/, 2_500).catch(() => {}); // let a few polls happen
      const [p1, r1] = await justPolled();
      assert.ok(p1 - p0 >= 2, `polled on the interval (${p1 - p0} polls)`);
      assert.equal(r1 - r0, p1 - p0, 'one request per poll');
      assert.ok(
        lab.server.requests.slice(before).every((r) => r.method === 'POST' && r.path.endsWith('/git-upload-pack')),
        'ls-refs only, no fetch',
      );
    });

    test(
      '2. a commit that fails its health check is rolled back, recorded as bad, and not applied again; 3. ' +
        'git revert is applied',
      async () => {
        lab.write('v3', true);
        const c2 = lab.commit('system v3');
        lab.push();
        await agent.until('c2 applied', (x) => x.lastGood?.commit === c2);
        lab.expectSettled('v3');

        lab.git('revert', '--no-edit', c2);
        const c3 = lab.git('rev-parse', 'HEAD');
        const expected = await lab.diffSteps();
        assert.ok(expected.includes('install component/G13'), 'the revert installs v2 again');
        lab.push();
        const s3 = await agent.until('the revert applied', (x) => x.lastGood?.commit === c3);
        assert.deepEqual([...(lastHistory(s3, c3)?.steps ?? [])].sort(), [...expected].sort());
        lab.expectSettled('v2');

        lab.write('v3', false);
        const bad = lab.commit('system v3 with a check that fails');
        lab.push();
        const s = await agent.until('the bad commit rolled back', (x) => lastHistory(x, bad)?.event === 'rolled-back');
        assert.equal(s.applied?.commit, c3);
        const rec = s.bad.find((b) => b.commit === bad)!;
        assert.equal(rec.kind, 'health-failed');
        assert.match(rec.reason, /devices-answer failed 2 time\(s\) in a row: test -d .*nothing-here exited 1/);
        assert.equal(s.lastGood?.commit, c3);
        lab.expectSettled('v2');
        assert.equal(lastHistory(s, bad)?.event, 'rolled-back');

        // Later polls and a manual sync leave it alone: no interface is asked to install anything.
        lab.clearCalls();
        const sync = await rollgate('sync', '--state-dir', lab.stateDir);
        assert.equal(sync.code, 0, sync.err);
        assert.match(
          sync.out,
          /the branch points at a commit that failed before; it is not applied again until the branch moves/,
        );
        await agent.waitForLog(/^$/, 2_500).catch(() => {});
        assert.deepEqual(
          lab.calls().filter((c) => !/ (Identity|Provides|Inventory)$/.test(c)),
          [],
          'nothing was installed again',
        );
        const status = await rollgate('status', '--state-dir', lab.stateDir);
        assert.match(status.out, /bad commits +1 \(never applied again automatically/);
        assert.match(status.out, new RegExp(`✗ ${bad.slice(0, 12)}  health-failed`));
        const history = await rollgate('history', '--state-dir', lab.stateDir);
        assert.match(history.out, new RegExp(`↩ .*rolled-back  ${bad.slice(0, 12)} → ${c3.slice(0, 12)}`));
        // One vocabulary: the status JSON, the human status and the metrics say the same.
        const json = await rollgate('status', '--state-dir', lab.stateDir, '--output', 'json');
        const { conditions, lastAttempted } = JSON.parse(json.out) as {
          conditions: { type: string; status: string; reason: string }[];
          lastAttempted: { commit: string; reason: string };
        };
        const cond = Object.fromEntries(conditions.map((c) => [c.type, `${c.status} ${c.reason}`]));
        assert.equal(cond['Ready'], 'False rolled-back');
        assert.equal(cond['Healthy'], 'True rolled-back');
        assert.equal(cond['Stalled'], 'True rolled-back', 'nothing changes until the branch moves');
        assert.match(cond['Reconciling'] ?? '', /^(False idle|True polling)$/);
        assert.equal(lastAttempted.commit, bad);
        assert.equal(lastAttempted.reason, 'rolled-back');
        assert.match(status.out, /Stalled +True +rolled-back/);
        const metricsText = await (await fetch(await agent.metricsUrl())).text();
        assert.match(metricsText, /rollgate_condition\{type="Healthy",status="True",reason="rolled-back"\} 1/);

        // The next good commit is applied.
        lab.write('v3', true);
        const fixed = lab.commit('system v3, check fixed');
        lab.push();
        await agent.until('the fix applied', (x) => x.lastGood?.commit === fixed);
        lab.expectSettled('v3');
      },
    );

    test(
      '6. the git server goes away: polls fail, nothing changes, and the next commit is applied once it is ' + 'back',
      async () => {
        const port = lab.server.port;
        await lab.server.close();
        const sync = await rollgate('sync', '--state-dir', lab.stateDir);
        assert.equal(sync.code, 1);
        assert.match(sync.out, /the fleet repo could not be polled; the gateway is left as it is/);
        assert.match(sync.out, /ECONNREFUSED|unreachable|connect/i);
        lab.write('v1', true);
        const c = lab.commit('system v1 again');
        lab.push();
        await lab.serve(port);
        await agent.until('applied after the server came back', (x) => x.lastGood?.commit === c, 30_000);
        lab.expectSettled('v1');
      },
    );

    test(
      'SIGTERM stops the agent cleanly and releases the lock; a second agent is refused while one ' + 'runs',
      async () => {
        const second = lab.agent();
        const r = await second.exited;
        assert.equal(r.code, 1);
        assert.match(second.text(), /another rollgate agent \(pid \d+, since .*\) uses the state directory/);
        const stopped = await agent.stop();
        assert.equal(stopped.code, 0);
        assert.equal(existsSync(join(lab.stateDir, 'agent.lock')), false);
        assert.match(agent.text(), /rollgate agent stopped/);
      },
    );
  },
);

// A deterministic spread of kill points: every step kind and phase, at an occurrence drawn from a seeded generator.
function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

const SEED = Number(process.env['ROLLGATE_KILL_SEED'] ?? 5);
const rand = seeded(SEED);
const pick = (max: number) => 1 + Math.floor(rand() * max);
/** [crash point, the commit is healthy]: apply points with a good commit, rollback points with a failing one. */
const KILL_POINTS: [string, boolean][] = [
  [`download:${pick(3)}`, true],
  ['stages:1', true],
  [`install:${pick(3)}`, true],
  [`reboot:${pick(3)}`, true],
  ['confirm:1', true],
  [`commit:${pick(3)}`, true],
  [`finalize:${pick(3)}`, true],
  ['bad-recorded:1', false],
  [`undo:${pick(4)}`, false],
  [`undo:${4 + pick(5)}`, false],
];

/**
 * Who dies at the point (src/apply/crash-points.ts): the agent and its worker at once (a power
 * cut), the worker alone (the agent goes on, and its next worker resumes the journal), or the
 * agent alone (its worker runs on until the next agent's start kills it).
 */
const KILLED = ['both', 'worker', 'parent'] as const;

describe(
  `the agent killed (kill -9) at seeded points of an apply and of a rollback (seed ${SEED})`,
  { skip: missing ?? false },
  () => {
    for (const who of KILLED)
      for (const [point, healthy] of KILL_POINTS) {
        const whom = { both: 'the agent and its worker', worker: 'its worker', parent: 'the agent alone' }[who];
        test(
          `${whom} killed at ${point} ${healthy ? 'applying a good commit' : 'rolling back a failing one'}: it ` +
            `ends on the new commit or the last good one`,
          async () => {
            const lab = new FleetLab();
            let agent: AgentProcess | undefined;
            try {
              lab.seed((t) => `${t}-v1`);
              lab.init();
              await lab.serve();
              lab.write('v2', true);
              const good = lab.commit('system v2');
              lab.push();
              agent = lab.agent({}, ['--interval', '1h']);
              await agent.until('v2 applied', (x) => x.lastGood?.commit === good);
              await agent.stop();

              lab.write('v3', healthy);
              const next = lab.commit(healthy ? 'system v3' : 'system v3, failing');
              lab.push();
              const crash = {
                ROLLGATE_CRASH_AT: point,
                ROLLGATE_CRASH_KILLS: who,
                ROLLGATE_CRASH_ONCE: join(lab.root, `crashed-${who}-${point}`),
              };
              // A killed worker's parent polls again after the retry delay, not the hour.
              agent = lab.agent(crash, ['--interval', '1h', '--retry', '500ms']);
              const seen = new Set<number>();
              if (who === 'worker') {
                await agent.waitForLog(/worker process was killed \(SIGKILL\)/, 120_000);
                assert.ok(agent.running, 'the agent outlives its worker');
              } else {
                // The workers on record (the killed agent's book keeps the last): none may outlive the next start.
                while (agent.running) {
                  for (const pid of workersIn(lab.stateDir)) seen.add(pid);
                  await sleep(20);
                }
                const ended = await agent.exited;
                for (const pid of workersIn(lab.stateDir)) seen.add(pid);
                assert.equal(ended.signal, 'SIGKILL', `the agent died at ${point}:\n${agent.text()}`);
                assert.doesNotThrow(() => agent!.state(), 'the state file is readable after the kill');
                agent = lab.agent({}, ['--interval', '1h']);
              }
              const s = await agent.until(
                'settled',
                (x) =>
                  !x.inProgress &&
                  (x.lastGood?.commit === next ||
                    (x.bad.some((b) => b.commit === next) && lastHistory(x, next)?.event === 'rolled-back')),
                120_000,
              );
              if (healthy) {
                assert.equal(
                  s.lastGood?.commit,
                  next,
                  'a good commit interrupted by a crash is applied when the agent is back',
                );
                lab.expectSettled('v3');
              } else {
                assert.equal(s.applied?.commit, good);
                assert.equal(s.bad.find((b) => b.commit === next)?.kind, 'health-failed');
                lab.expectSettled('v2');
              }
              const records = readFileSync(join(lab.stateDir, 'agent-state.json'), 'utf8');
              assert.doesNotThrow(() => JSON.parse(records));
              assert.deepEqual(lab.componentRecords().sort(), ['G13', 'R456', 'R998']);
              for (const pid of seen)
                assert.ok(!alive(pid), `the killed agent's worker ${pid} did not run on beside the new agent`);
            } finally {
              await agent?.kill();
              // As systemd's control-group kill would: a worker that outlives its killed agent (and what it
              // runs) ends too, before the lab's directories go.
              await endLeftoverGroups(lab.stateDir, 0, silentLog).catch(() => []);
              await lab.server?.close();
              lab.close();
            }
          },
        );
      }
  },
);

/** Whether `pid` is a live process (a zombie is not). */
function alive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return false;
  }
}
