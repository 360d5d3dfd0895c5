// Chaos: one real gateway — `rollgate agent` as a process, the private dockerd and registry, three
// simulated devices behind real update interfaces and `.mender` artifacts, a fleet repo on a real
// git server, the state directory on a small disk of its own — receives commit after commit (most
// healthy, some whose health fails), and at a random moment during each, one fault: the agent,
// its worker, or both killed with SIGKILL, an update interface killed mid-state, dockerd stopped with SIGTERM or
// killed with SIGKILL and started again, the git server down or cutting a pack short, the state
// disk full. After each fault and its recovery the gateway must be exactly on the commit the agent
// says it applied (its containers running, its devices on its versions), every commit must have
// one verdict, the right one, no process may be left over and no half-written file.
//
// The moments and faults come from a seeded PRNG, printed with each fault so a failure replays:
// ROLLGATE_CHAOS_SEED=<n> runs another seed, ROLLGATE_CHAOS_SECONDS=<s> runs longer (150 by default,
// which keeps the whole file under four minutes on two cores). Bounded in rounds and in time.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { LABEL } from '../../src/apply/index.js';
import type { AgentState } from '../../src/model/index.js';
import type { AgentProcess } from '../helpers/agent-process.js';
import { removeApp, requireDocker } from '../helpers/docker-tests.js';
import { requireMenderTools } from '../helpers/devices.js';
import {
  APP,
  ChaosLab,
  FAULTS,
  FINAL,
  GIT_PORT,
  prng,
  STALLED,
  WEB_PORT,
  type Fault,
  type Pushed,
} from '../helpers/chaos-lab.js';

const env = requireDocker();
const missing = env ? requireMenderTools() : 'no Docker Engine';

const SEED = Number(process.env['ROLLGATE_CHAOS_SEED'] ?? 20261202);
const SECONDS = Number(process.env['ROLLGATE_CHAOS_SECONDS'] ?? 150);
const MAX_ROUNDS = Math.max(8, Math.ceil(SECONDS / 4));

describe('chaos: faults at random moments, real parts (seeded)', { skip: missing ?? false }, () => {
  let lab: ChaosLab;
  let agent: AgentProcess;
  let docker: Docker;
  const pushed: Pushed[] = [];
  /** Every agent's log, for the message of a failure. */
  const logs: string[] = [];
  const rng = prng(SEED);
  let mounted = false;

  const say = (line: string) => process.stdout.write(`# chaos: ${line}\n`);

  function startAgent(): AgentProcess {
    return lab.agent({}, [
      '--docker-host',
      `unix://${env!.socket}`,
      '--interval',
      '1s',
      '--drift-check',
      '2s',
      '--docker-engine-wait',
      '10s',
      '--interface-timeout',
      '30s',
    ]);
  }

  before(async () => {
    docker = env!.docker;
    lab = new ChaosLab();
    lab.image = await env!.image('chaos/web', '1');
    lab.seed((t) => `${t}-v1`);
    // Installs and rollbacks that take a moment: something for the faults to interrupt.
    for (const id of ['G13', 'R456', 'R998'])
      for (const state of ['ArtifactInstall', 'ArtifactRollback']) lab.set(id, `misbehave/${state}`, 'slow');
    lab.init();
    await lab.serve(GIT_PORT);
    // The state directory on a disk of its own, small enough to fill.
    mkdirSync(lab.stateDir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=32m,mode=0700', 'rollgate-chaos-state', lab.stateDir]);
    mounted = true;
  });

  after(async () => {
    if (agent) {
      logs.push(agent.text());
      await agent.kill();
    }
    // Whatever went wrong, nothing of the run stays: no server keeps the test process alive.
    await lab.server?.close().catch(() => {});
    for (const pid of interfaceProcesses()) kill(pid);
    if (mounted) execFileSync('umount', ['-l', lab.stateDir]);
    if (!env!.engineRunning) await env!.startEngine();
    await removeApp(docker, APP, { networks: [`${APP}_default`] });
    lab.close();
  });

  function kill(pid: number): void {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone already */
    }
  }

  /** Processes running an update interface of this lab (the agent names the directory; they run a file in it). */
  function interfaceProcesses(): number[] {
    const r = spawnSync('pgrep', ['-f', `${lab.interfaces}/`], { encoding: 'utf8' });
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .filter((p) => p !== process.pid);
  }

  const parentOf = (pid: number) =>
    Number(spawnSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim() || 0);

  /**
   * Interface processes no agent waits for: their line of parents does not reach the live agent (an
   * interface's own subshells are its children). One that ends while it is looked at is none.
   */
  function orphans(): number[] {
    return interfaceProcesses().filter((pid) => {
      for (let p = pid, hops = 0; hops < 10; hops++) {
        const up = parentOf(p);
        if (up === agent.pid) return false;
        if (up === 0) return false; // it (or a parent) ended while it was looked at
        if (up === 1) return true;
        p = up;
      }
      return true;
    });
  }

  /** Files of the state directory a write left half done (the pattern the agent sweeps at start). */
  function tempFiles(dir: string): string[] {
    const out: string[] = [];
    const walk = (d: string, depth: number) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory() && depth < 3 && e.name !== 'repo.git') walk(join(d, e.name), depth + 1);
        else if (e.isFile() && /\.\d+\.tmp$/.test(e.name)) out.push(join(d, e.name));
      }
    };
    walk(dir, 0);
    return out;
  }

  const ms = (lo: number, hi: number) => Math.round(lo + rng() * (hi - lo));

  async function inject(fault: Fault): Promise<string> {
    switch (fault) {
      case 'agent-kill': {
        // The agent alone: a worker it ran goes on until the next start kills it at once.
        await agent.kill();
        logs.push(agent.text());
        await sleep(ms(100, 1_000));
        agent = startAgent();
        return 'killed with SIGKILL and started again';
      }
      case 'worker-kill': {
        // The worker that runs now, or the next one within a moment (a poll may be between two).
        const until = Date.now() + 3_000;
        while (Date.now() < until) {
          const workers = agent.workerPids();
          if (workers.length) {
            for (const pid of workers) kill(pid);
            return `killed the agent's worker ${workers.join(', ')} with SIGKILL; the agent lives on`;
          }
          await sleep(20);
        }
        return 'no worker was running to kill';
      }
      case 'both-kill': {
        // Both at once while a worker runs, when one does within a moment (a power cut to rollgate).
        let workers = agent.workerPids();
        for (const until = Date.now() + 3_000; workers.length === 0 && Date.now() < until; await sleep(20))
          workers = agent.workerPids();
        for (const pid of workers) kill(pid);
        await agent.kill();
        logs.push(agent.text());
        await sleep(ms(100, 1_000));
        agent = startAgent();
        const which = workers.length ? ` ${workers.join(', ')}` : ' (none ran)';
        return `killed the agent and its worker${which} with SIGKILL and started again`;
      }
      case 'interface-kill': {
        const until = Date.now() + 3_000;
        while (Date.now() < until) {
          // Started by the agent's worker (the agent's own children: the workers).
          const callers = new Set([agent.pid, ...agent.workerPids()]);
          const mine = interfaceProcesses().filter((p) => callers.has(parentOf(p)));
          if (mine.length) {
            const pid = mine[Math.floor(rng() * mine.length)]!;
            let what = '';
            try {
              // "sh <interface> <State> ...": which interface, in which state.
              what = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(1, 3).join(' ');
            } catch {
              /* it ended just now */
            }
            kill(pid);
            return `killed interface process ${pid} (${what.replace(`${lab.interfaces}/`, '') || 'ended already'})`;
          }
          await sleep(20);
        }
        return 'no interface was running to kill';
      }
      case 'dockerd-term': {
        const down = ms(200, 2_500);
        await env!.restartEngine(down);
        return `stopped with SIGTERM, started again after ${down} ms`;
      }
      case 'dockerd-kill': {
        await env!.killEngine();
        const down = ms(200, 2_500);
        await sleep(down);
        await env!.startEngine();
        return `killed with SIGKILL, started again after ${down} ms`;
      }
      case 'git-down': {
        await lab.server.close();
        const down = ms(500, 3_000);
        await sleep(down);
        await lab.serve(GIT_PORT);
        return `down for ${down} ms`;
      }
      case 'git-cut': {
        lab.server.fault = 'cut-pack';
        const d = ms(500, 3_000);
        await sleep(d);
        lab.server.fault = 'none';
        return `cutting packs short for ${d} ms`;
      }
      case 'disk-full': {
        const filler = join(lab.stateDir, 'filler');
        mkdirSync(filler, { recursive: true });
        for (let i = 0; ; i++) {
          try {
            writeFileSync(join(filler, String(i)), Buffer.alloc(256 * 1024));
          } catch {
            break;
          }
        }
        const d = ms(500, 3_000);
        await sleep(d);
        rmSync(filler, { recursive: true, force: true });
        return `full for ${d} ms`;
      }
    }
  }

  /** What the gateway runs matches the commit the agent says it applied; undefined when it does, or why not. */
  async function mismatch(s: AgentState): Promise<string | undefined> {
    const applied = pushed.find((p) => p.commit === s.applied?.commit);
    if (!applied) return `applied is ${s.applied?.commit ?? 'nothing'}, not a commit this test pushed`;
    const cs = await docker
      .listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL.app}=${APP}`] }) })
      .catch((err: Error) => err);
    if (cs instanceof Error) return `the Engine: ${cs.message}`;
    const seen = cs.map((c) => `${c.Labels[LABEL.service]} ${c.State} ${c.Labels[LABEL.commit]?.slice(0, 8)}`);
    const want = [`web running ${applied.commit.slice(0, 8)}`];
    if (JSON.stringify(seen) !== JSON.stringify(want)) return `containers ${seen.join(', ')}; want ${want.join(', ')}`;
    const devices = lab.running();
    const wantDevices = {
      G13: `gateway-${applied.version}`,
      R456: `rtos-${applied.version}`,
      R998: `rtos-${applied.version}`,
    };
    if (JSON.stringify(devices) !== JSON.stringify(wantDevices))
      return `devices ${JSON.stringify(devices)}; want ${JSON.stringify(wantDevices)}`;
    if (lab.unsettled().length) return `devices mid-update: ${lab.unsettled().join(', ')}`;
    return undefined;
  }

  /** The verdict the history records on a commit (`applied` for applied and no-change alike). */
  const verdictOn = (s: AgentState, commit: string) =>
    s.history.filter((h) => h.commit === commit && FINAL.has(h.event)).at(-1)?.event;

  /**
   * True when the commit stalled on the app's port while the Engine's own docker-proxy holds it and no
   * running container publishes it: the Engine kept an allocation through its SIGKILL.
   */
  async function heldPort(s: AgentState, commit: string): Promise<boolean> {
    const bad = s.bad.find((b) => b.commit === commit);
    if (!bad || !new RegExp(`port \\S+:${WEB_PORT} is taken`).test(bad.reason)) return false;
    const listener = spawnSync('sh', ['-c', `ss -tlnp | grep :${WEB_PORT} || true`], { encoding: 'utf8' }).stdout;
    if (!listener.includes('docker-proxy')) return false;
    const running = await docker.listContainers({ filters: JSON.stringify({ status: ['running'] }) });
    return !running.some((c) => c.Ports?.some((port) => port.PublicPort === WEB_PORT));
  }

  /** What the Engine and the host say about the app's port and containers, for a failure's message. */
  async function diagnose(): Promise<string> {
    const sh = (cmd: string) => spawnSync('sh', ['-c', cmd], { encoding: 'utf8' }).stdout.trim();
    const containers = await docker
      .listContainers({ all: true })
      .then((cs) =>
        cs.map(
          (c) =>
            `${c.Names[0]} ${c.State} ${c.Labels[LABEL.commit]?.slice(0, 8)} ` +
            Object.values(c.NetworkSettings?.Networks ?? {})
              .map((n) => n.IPAddress)
              .join(','),
        ),
      )
      .catch((err: Error) => [err.message]);
    return (
      `who listens on ${WEB_PORT}: ${sh(`ss -tlnp | grep :${WEB_PORT} || true`)}\n` +
      `proxies: ${sh('ps -eo pid,ppid,stat,args | grep [d]ocker-proxy || true')}\n` +
      `addresses: ${sh("ip -o -4 addr | grep -E 'docker0|br-' | awk '{print $2, $4}' || true")}\n` +
      `DNAT: ${sh(`iptables -t nat -S DOCKER 2>/dev/null | grep ${WEB_PORT} || true`)}\n` +
      `containers: ${containers.join('; ')}`
    );
  }

  /** Waits until the agent has a verdict on `p` and the gateway matches what it applied. */
  async function settle(p: Pushed): Promise<AgentState> {
    const end = Date.now() + 150_000;
    let why = 'no state yet';
    for (;;) {
      const s = agent.state();
      if (!agent.running) throw new Error(`the agent exited:\n${agent.text()}`);
      if (s) {
        const last = s.lastAttempted;
        if (existsSync(join(lab.stateDir, 'journal.json'))) why = 'a transaction is in the journal';
        else if (s.rollingBack || s.inProgress) why = `in progress: ${JSON.stringify(s.rollingBack ?? s.inProgress)}`;
        else if (!verdictOn(s, p.commit))
          why = `no verdict yet; the last was ${last?.reason} on ${last?.commit?.slice(0, 8)}`;
        else if (STALLED.has(verdictOn(s, p.commit)!)) {
          // A dockerd killed with the app running may come back holding the app's port for a container
          // that no longer runs (its docker-proxy restored, the allocation never released): no start can
          // take the port until the Engine is restarted. The agent says so and stalls; an operator
          // restarts the Engine (systemctl restart docker), which this does, and the agent's look again
          // must then bring the gateway back to its last good commit.
          if (p.fault === 'dockerd-kill' && !p.engineHeldPort && (await heldPort(s, p.commit))) {
            p.engineHeldPort = true;
            say(`round ${p.round}: the Engine holds port ${WEB_PORT} for no running container; restarting it`);
            await env!.restartEngine();
          } else if (p.fault !== 'interface-kill' && !p.engineHeldPort)
            throw new Error(
              `round ${p.round}: ${verdictOn(s, p.commit)} (seed ${SEED})\n${await diagnose()}\n${agent.text()}`,
            );
          why = `${verdictOn(s, p.commit)}, until the agent looks again`;
        } else {
          const off = await mismatch(s);
          if (!off) return s;
          why = off;
        }
      }
      if (Date.now() > end) {
        const around = await diagnose();
        throw new Error(
          `round ${p.round} did not settle (seed ${SEED}): ${why}\n${around}\n${logs.join('\n')}\n${agent.text()}`,
        );
      }
      await sleep(250);
    }
  }

  test(`commits and faults until the time is up (seed ${SEED}, ${SECONDS} s)`, async () => {
    say(`seed ${SEED}, ${SECONDS} s, at most ${MAX_ROUNDS} rounds; replay with ROLLGATE_CHAOS_SEED=${SEED}`);
    agent = startAgent();
    const started = Date.now();
    let deck: Fault[] = [];
    const counts = new Map<Fault, number>();
    for (let round = 1; round <= MAX_ROUNDS && Date.now() - started < SECONDS * 1_000; round++) {
      // Every kind of fault, in an order the seed shuffles, then again.
      if (deck.length === 0) deck = [...FAULTS].sort(() => rng() - 0.5);
      const fault = deck.shift()!;
      const good = round === 1 || rng() < 0.7;
      const version = `v${1 + (round % 3)}`;
      lab.writeChaos(version, round, good);
      const commit = lab.commit(`round ${round}: ${good ? 'healthy' : 'health fails'}`);
      const p: Pushed = { commit, round, good, version, v: round, fault };
      pushed.push(p);
      lab.push();
      const delay = ms(0, 3_000);
      await sleep(delay);
      const what = await inject(fault);
      counts.set(fault, (counts.get(fault) ?? 0) + 1);
      say(
        `round ${round}: ${good ? 'healthy' : 'unhealthy'} commit ${commit.slice(0, 8)} ` +
          `(devices ${version}, V=${round}); ` +
          `after ${delay} ms ${fault}: ${what}`,
      );
      const s = await settle(p);
      const verdict = verdictOn(s, commit)!;
      const bad = s.bad.find((b) => b.commit === commit);
      say(`round ${round}: ${verdict}${bad ? ` (${bad.kind}: ${bad.reason.slice(0, 100)})` : ''}`);

      // The right verdict: a healthy commit is applied whatever happened to the Engine, the git server or the
      // disk; only an interface killed mid-state may fail it (its state failed). An unhealthy one is rolled back.
      if (good && fault !== 'interface-kill' && !p.engineHeldPort)
        assert.equal(verdict, 'applied', `round ${round} (seed ${SEED})`);
      if (good && fault === 'interface-kill' && verdict === 'rolled-back')
        assert.ok(bad?.kind === 'apply-failed' || bad?.kind === 'rollback-incomplete', `round ${round}: ${bad?.kind}`);
      if (!good) assert.equal(verdict, 'rolled-back', `round ${round} (seed ${SEED})`);
      assert.equal(s.applied?.commit, s.lastGood?.commit, 'the gateway runs its last good commit');
      // One verdict per commit. Only an interface killed during its own rollback may have left the gateway
      // stalled first (rollback-incomplete); then the look again records the rollback it was meant to be.
      for (const q of pushed) {
        const verdicts = s.history.filter((h) => h.commit === q.commit && FINAL.has(h.event)).map((h) => h.event);
        const before = verdicts.slice(0, -1);
        const ok =
          verdicts.length === 1 ||
          ((q.fault === 'interface-kill' || q.engineHeldPort === true) &&
            before.every((v) => STALLED.has(v)) &&
            !STALLED.has(verdicts.at(-1)!));
        assert.ok(ok, `commit ${q.commit.slice(0, 8)} of round ${q.round}: ${verdicts.join(', ')} (seed ${SEED})`);
      }
      // No process left over: every interface process is the live agent's own.
      assert.deepEqual(orphans(), [], `round ${round}: interface processes no agent waits for (seed ${SEED})`);
      assert.deepEqual(tempFiles(lab.stateDir), [], `round ${round}: half-written files (seed ${SEED})`);
    }
    say(`${pushed.length} rounds: ${[...counts].map(([f, n]) => `${f} ${n}`).join(', ')}`);
    if (SECONDS >= 100) for (const f of FAULTS) assert.ok(counts.get(f), `the run injected ${f}`);
    logs.push(agent.text());
    const stop = await agent.stop();
    assert.equal(stop.code, 0, 'the agent stops cleanly');
  });
});
