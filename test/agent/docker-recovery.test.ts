// A gateway a rollback left stalled is looked at again, and the Docker Engine going away during a
// rollback is no verdict: `rollgate agent` as a process, a Compose fleet repo on a real git server,
// the private dockerd and registry. A port another program takes while the rollback starts the
// old container again leaves it rollback-incomplete; a health check the last good commit fails
// too leaves it last-good-unhealthy; once the cause is gone, the agent finds the gateway healthy
// on its last good commit and says so. A dockerd stopped longer than a step waits pauses the
// rollback, which goes on when the Engine is back.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { LABEL } from '../../src/apply/index.js';
import type { AgentState } from '../../src/model/index.js';
import { AgentProcess, lastHistory } from '../helpers/agent-process.js';
import { removeApp, requireDocker } from '../helpers/docker-tests.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';

const env = requireDocker();
const PORT = 18611;

/** Takes a port as soon as it is free, and keeps it until released: another program on the gateway. */
class Squatter {
  private server: Server | undefined;
  private stopped = false;
  readonly took: Promise<void>;

  constructor(port: number) {
    this.took = new Promise((resolve) => {
      const attempt = () => {
        if (this.stopped) return;
        const s = createServer((c) => c.destroy());
        s.once('error', () => setTimeout(attempt, 5));
        s.listen(port, '127.0.0.1', () => {
          this.server = s;
          resolve();
        });
      };
      attempt();
    });
  }

  release(): Promise<void> {
    this.stopped = true;
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

describe(
  'a stalled gateway looked at again, and the Engine going away during a rollback (agent process, real Engine)',
  { skip: env ? false : 'no Docker Engine (see the line above)' },
  () => {
    const root = tempDir('rollgate-recovery-');
    const work = join(root, 'fleet');
    const srv = join(root, 'srv');
    const stateDir = join(root, 'state');
    const flag = join(root, 'healthy-flag');
    let server: GitServer;
    let agent: AgentProcess;
    let docker: Docker;
    let image: string;
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=Ops', '-c', 'user.email=ops@example.com', ...args], { cwd: work })
        .toString()
        .trim();

    /** The app `rec` (service `web`) serving on PORT (or on the wrong port); its health also needs the flag file. */
    function commit(v: string, serves: boolean, slowStop = false): string {
      mkdirSync(join(work, 'apps/rec'), { recursive: true });
      writeFileSync(
        join(work, 'rollgate.yaml'),
        'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  sys:\n    apps:\n      rec: apps/rec/compose.yaml\n  ' +
          '  health: health.yaml\ntargets:\n  - name: all\n    match: { any: true }\n    system: sys\n',
      );
      writeFileSync(
        join(work, 'apps/rec/compose.yaml'),
        `services:\n  web:\n    image: ${image}\n    command: ["httpd", "-f", "-p", "${serves ? 8080 : 8081}", ` +
          // Without init, httpd as PID 1 ignores SIGTERM: stopping it takes the whole grace period.
          `"-h", "/"]\n    init: ${!slowStop}\n    stop_grace_period: ${slowStop ? '8s' : '1s'}\n    environment: ` +
          `{ V: "${v}" }\n    ports: ["127.0.0.1:${PORT}:8080"]\n`,
      );
      writeFileSync(
        join(work, 'health.yaml'),
        'apiVersion: rollgate/v1\nkind: Health\nwindow: 1s\ndeadline: 20s\ndefaults: { interval: 200ms, ' +
          'timeout: 1s, failureThreshold: 3 }\nchecks:\n  - name: web-answers\n    http: { url: ' +
          `"http://127.0.0.1:${PORT}/bin/", expectStatus: [200, 403, 404] }\n  - name: web-running\n    ` +
          `container: { app: rec, service: web }\n  - name: flag\n    command: { argv: [test, -f, ${flag}] }\n`,
      );
      git('add', '-A');
      git('commit', '-q', '-m', `web ${v}`);
      git('push', '-q', 'origin', 'main');
      return git('rev-parse', 'HEAD');
    }

    const webContainers = () =>
      docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL.app}=rec`] }) });

    /** The gateway runs exactly the web container of `commit`, running. */
    async function runs(commitId: string): Promise<void> {
      const cs = await webContainers();
      assert.deepEqual(
        cs.map((c) => [c.State, c.Labels[LABEL.commit]]),
        [['running', commitId]],
        `${cs.map((c) => `${c.Names[0]} ${c.State}`).join(', ')}\n${agent.text()}`,
      );
    }

    const condition = (s: AgentState, type: string) => s.conditions.find((c) => c.type === type)?.status;

    /** Waits for the state to satisfy `test`, journal or not (`agent.until` also waits for the journal to go). */
    async function stateUntil(what: string, t: (s: AgentState) => boolean, ms = 60_000): Promise<AgentState> {
      const end = Date.now() + ms;
      for (;;) {
        const s = agent.state();
        if (s && t(s)) return s;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}; ${JSON.stringify(s)}\n${agent.text()}`);
        await new Promise((r) => setTimeout(r, 150));
      }
    }

    /** Waits until the agent logged `n` lines matching `re`. */
    async function logged(re: RegExp, n: number, ms = 60_000): Promise<void> {
      const end = Date.now() + ms;
      while (agent.logs.filter((l) => re.test(l.msg)).length < n) {
        if (Date.now() > end) throw new Error(`fewer than ${n} log lines ${re}:\n${agent.text()}`);
        await new Promise((r) => setTimeout(r, 150));
      }
    }

    before(async () => {
      docker = env!.docker;
      image = await env!.image('recovery/web', '1');
      mkdirSync(srv, { recursive: true });
      execFileSync('git', ['init', '-q', '--bare', '-b', 'main', join(srv, 'fleet.git')]);
      execFileSync('git', ['init', '-q', '-b', 'main', work]);
      git('remote', 'add', 'origin', join(srv, 'fleet.git'));
      server = await startGitServer(srv);
      writeFileSync(flag, '');
    });
    // A test that failed with the Engine stopped leaves it to the next one running.
    test.beforeEach(async () => {
      if (!env!.engineRunning) await env!.startEngine();
    });
    const squatters: Squatter[] = [];
    after(async () => {
      for (const s of squatters) await s.release();
      await agent?.kill();
      await server?.close();
      if (!env!.engineRunning) await env!.startEngine();
      await removeApp(docker, 'rec', { networks: ['rec_default'] });
      cleanup(root);
    });

    test(
      'rollback incomplete (another program took the port): once the port is free, the agent puts the last good ' +
        'container back, checks its health, and records the rollback; the commit stays bad',
      async () => {
        const c1 = commit('1', true);
        agent = new AgentProcess(stateDir, [
          '--repo',
          server.url('fleet.git'),
          '--id',
          'gw-recovery',
          '--docker-host',
          `unix://${env!.socket}`,
          '--docker-engine-wait',
          '3s',
          '--interval',
          '1s',
          '--jitter',
          '0s',
          '--retry',
          '500ms',
        ]);
        await agent.until('web 1 applied', (s) => s.lastGood?.commit === c1);
        await runs(c1);

        // As soon as the old container lets go of the port (new before old), another program takes it.
        const squatter = new Squatter(PORT);
        squatters.push(squatter);
        const c2 = commit('2', true);
        await squatter.took;
        const s = await agent.until(
          'web 2 rollback incomplete',
          (x) => lastHistory(x, c2)?.event === 'rollback-incomplete',
        );
        const reason = s.bad.find((b) => b.commit === c2)!.reason;
        assert.match(reason, /could not put back: .*port 127\.0\.0\.1:18611 is taken/);
        await squatter.release();

        const r = await agent.until('web 2 recovered', (x) => lastHistory(x, c2)?.event === 'rolled-back');
        assert.match(
          lastHistory(r, c2)!.detail!,
          /^recovered from rollback-incomplete: the gateway is back on the last/,
        );
        assert.equal(r.applied?.commit, c1);
        assert.equal(r.bad.find((b) => b.commit === c2)?.kind, 'rollback-incomplete', 'the commit stays bad');
        assert.deepEqual(
          ['Ready', 'Healthy', 'Stalled'].map((t) => condition(r, t)),
          ['False', 'True', 'True'],
        );
        await runs(c1);
      },
    );

    test(
      'last good unhealthy (its health failed too): when it is healthy again the agent notices and records the ' +
        'rollback; a look that finds it still unhealthy records nothing new',
      async () => {
        const c3 = commit('3', true);
        await agent.until('web 3 applied', (s) => s.lastGood?.commit === c3);
        rmSync(flag);
        const c4 = commit('4', true);
        const s = await agent.until(
          'web 4 rolled back onto an unhealthy web 3',
          (x) => lastHistory(x, c4)?.event === 'last-good-unhealthy',
        );
        assert.equal(condition(s, 'Healthy'), 'False');
        // Looked at again (more than once, backing off): still unhealthy, so nothing new in the history.
        await logged(/the last good commit \w+ is unhealthy too/, 3);
        assert.equal(
          agent.state()!.history.filter((h) => h.commit === c4 && h.event === 'last-good-unhealthy').length,
          1,
          'said once',
        );
        writeFileSync(flag, '');
        const r = await agent.until('web 4 recovered', (x) => lastHistory(x, c4)?.event === 'rolled-back');
        assert.equal(r.lastGoodUnhealthy, undefined);
        assert.equal(condition(r, 'Healthy'), 'True');
        assert.equal(r.bad.find((b) => b.commit === c4)?.kind, 'health-failed');
        await runs(c3);
      },
    );

    test(
      'dockerd stopped during a rollback for longer than a step waits: paused, not a verdict; finished when the ' +
        'Engine is back, onto the last good containers, never rollback-incomplete',
      async () => {
        // Its container takes seconds to stop, so the rollback is still undoing when the Engine goes.
        const failing = /apply failed, rolling back: health check failed/;
        const before = agent.logs.filter((l) => failing.test(l.msg)).length;
        const pause = /the transaction is paused in its rolling-back phase/;
        const pausesBefore = agent.logs.filter((l) => pause.test(l.msg)).length;
        const c5 = commit('5', false, true);
        await logged(failing, before + 1);
        await env!.stopEngine();
        await logged(pause, pausesBefore + 1);
        // The pause's own words stay until the next reconcile (a worker of its own) finds the Engine
        // still away and records that instead: either is the same state, a rollback under way.
        const paused = await stateUntil(
          'the rollback paused',
          (x) =>
            x.rollingBack?.commit === c5 &&
            /paused in its rolling-back phase|Docker Engine unreachable/.test(x.lastError?.message ?? ''),
        );
        assert.equal(paused.rollingBack?.commit, c5, agent.text());
        assert.equal(existsSync(join(stateDir, 'journal.json')), true, 'the journal is kept');
        assert.equal(lastHistory(paused, c5), undefined, 'no verdict on the rollback yet');
        await env!.startEngine();
        const s = await agent.until('web 5 rolled back', (x) => lastHistory(x, c5)?.event === 'rolled-back', 90_000);
        assert.equal(s.rollingBack, undefined);
        assert.equal(s.applied?.commit, lastHistory(s, c5)!.to);
        assert.ok(
          !s.history.some((h) => h.commit === c5 && h.event === 'rollback-incomplete'),
          'never rollback-incomplete',
        );
        await runs(s.applied!.commit);
      },
    );
  },
);
