// The Docker Engine going away is not a verdict: the private dockerd the suite started is stopped
// with SIGTERM (as systemd stops it) in the middle of an apply, of its health window and of its
// rollback, and started again; a container is left wedged the way an Engine crash leaves some;
// the state directory's disk fills up mid-transaction. Each time the transaction waits, goes on
// and ends at the new commit or the last good one, with every container running.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { DockerApplier, Engine, LABEL } from '../../src/apply/index.js';
import type { Log } from '../../src/base/log.js';
import { JOURNAL_FILE, reconcileOnce, type ReconcileDeps } from '../../src/gateway/reconcile.js';
import { configHashesOf, dockerContainerStates, HealthFailedError, healthWindow } from '../../src/health/index.js';
import type { DesiredState, HealthCheck } from '../../src/model/index.js';
import { AppRepo } from '../helpers/app-repo.js';
import { removeApp, requireDocker } from '../helpers/docker-tests.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';

const env = requireDocker();

/** A process that runs (not a zombie waiting for its parent). */
function running(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
  } catch {
    return false;
  }
}

/** The transaction was paused (not failed, not rolled back) because of the gateway. */
const paused = (why: 'engine-away' | 'disk-full', phase?: string) => (err: unknown) =>
  (err as Error).name === 'TransactionSuspendedError' &&
  (err as { interruption?: string }).interruption === why &&
  (phase === undefined || (err as Error).message.includes(`paused in its ${phase} phase`));

class Recorder implements Log {
  lines: { level: string; msg: string }[] = [];
  onLine: ((msg: string) => void) | undefined;
  private add = (level: string) => (_obj: Record<string, unknown>, msg: string) => {
    this.lines.push({ level, msg });
    this.onLine?.(msg);
  };
  debug = this.add('debug');
  info = this.add('info');
  warn = this.add('warn');
  error = this.add('error');
  text(): string {
    return this.lines.map((l) => `${l.level} ${l.msg}`).join('\n');
  }
}

/** A database that becomes healthy two seconds after it starts, and an app that waits for it; no restart policy. */
const compose = (db: string, app: string, v: string) => `services:
  db:
    image: ${db}
    command: ["sh", "-c", "sleep 2; touch /tmp/ready; exec sleep 3600"]
    init: true
    stop_grace_period: 1s
    environment: { V: "${v}" }
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 300ms
      timeout: 1s
      retries: 30
  app:
    image: ${app}
    init: true
    stop_grace_period: 1s
    environment: { V: "${v}" }
    depends_on:
      db: { condition: service_healthy }
`;

describe(
  'the Docker Engine going away mid-transaction (real Engine, stopped and started)',
  { skip: env ? false : 'no Docker Engine (see the line above)' },
  () => {
    let docker: Docker;
    const img: Record<string, string> = {};
    const dirs: string[] = [];
    const apps: string[] = [];
    const leftovers: number[] = [];

    before(async () => {
      docker = env!.docker;
      img['db'] = await env!.image('t/db', '1');
      img['app'] = await env!.image('t/worker', '1');
    });
    // A test that failed with the Engine stopped leaves it to the next one running.
    test.beforeEach(async () => {
      if (!env!.engineRunning) await env!.startEngine();
    });
    after(async () => {
      if (!env!.engineRunning) await env!.startEngine();
      for (const a of apps) await removeApp(docker, a, { networks: [`${a}_default`] });
      for (const pid of leftovers) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone already */
        }
      }
      dirs.forEach(cleanup);
    });

    const containersOf = (app: string) =>
      docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL.app}=${app}`] }) });

    /** A fresh app, state directory and Engine connection; `patienceMs`: how long a step waits for the Engine. */
    async function lab(name: string, patienceMs = 60_000) {
      apps.push(name);
      const r = new AppRepo();
      dirs.push(r.dir);
      const stateDir = tempDir('rollgate-engine-state-');
      dirs.push(stateDir);
      const engine = new Engine({ socketPath: env!.socket, reconnectMs: patienceMs });
      const log = new Recorder();
      const applier = new DockerApplier(engine, { pullBackoffMs: 100 });
      const v = async (version: string) => r.set({ [name]: compose(img['db']!, img['app']!, version) });
      /** The health window the agent runs: both services running, the database healthy. */
      const health = (d: DesiredState) => async () => {
        const base = { required: true, intervalMs: 200, timeoutMs: 2_000, failureThreshold: 3 } as const;
        const checks: HealthCheck[] = [
          { ...base, name: 'db', kind: 'container', app: name, service: 'db', condition: 'healthy' },
          { ...base, name: 'app', kind: 'container', app: name, service: 'app', condition: 'running' },
        ];
        const verdict = await healthWindow(
          { windowMs: 1_000, deadlineMs: 30_000, checks },
          { containers: dockerContainerStates(engine), configHashes: configHashesOf(d) },
          { log },
        );
        if (!verdict.ok) throw new HealthFailedError(verdict);
      };
      const reconcile = (d: DesiredState, more: Partial<ReconcileDeps> = {}) =>
        reconcileOnce(d, { docker: applier, stateDir, log, confirm: health(d), ...more });
      /** Every container of the app runs the configuration of `d`, one per service, no orphan. */
      const runs = async (d: DesiredState) => {
        const cs = await containersOf(name);
        assert.deepEqual(
          cs.map((c) => [c.Labels[LABEL.service], c.State, c.Labels[LABEL.configHash]]).sort(),
          d.apps[0]!.services.map((s) => [s.name, 'running', s.configHash]).sort(),
          `${cs.map((c) => `${c.Names[0]} ${c.State}`).join(', ')}\n${log.text()}`,
        );
        assert.equal(existsSync(join(stateDir, JOURNAL_FILE)), false, 'the transaction is over');
        return cs;
      };
      return { v, reconcile, runs, log, stateDir, health };
    }

    test('dockerd stopped with SIGTERM during an apply: the apply waits for it and ends applied', async () => {
      const l = await lab('eng-apply');
      assert.equal((await l.reconcile(await l.v('1'))).outcome?.status, 'applied', l.log.text());
      const d2 = await l.v('2');
      let restarting: Promise<void> | undefined;
      l.log.onLine = (msg) => {
        if (!restarting && /waits for db/.test(msg)) restarting = env!.restartEngine(500);
      };
      const r = await l.reconcile(d2);
      await restarting;
      assert.ok(restarting, 'the Engine was stopped in the middle of the apply');
      assert.equal(r.outcome?.status, 'applied', `${r.outcome?.error}\n${l.log.text()}`);
      assert.match(l.log.text(), /the Docker Engine went away during the transaction/);
      await l.runs(d2);
    });

    test('dockerd stopped with SIGTERM during the health window: the window runs again, the apply stands', async () => {
      const l = await lab('eng-health');
      assert.equal((await l.reconcile(await l.v('1'))).outcome?.status, 'applied', l.log.text());
      const d2 = await l.v('2');
      let restarting: Promise<void> | undefined;
      const gate = l.health(d2);
      const r = await l.reconcile(d2, {
        confirm: async () => {
          restarting ??= env!.restartEngine(500);
          await gate();
        },
      });
      await restarting;
      assert.equal(r.outcome?.status, 'applied', `${r.outcome?.error}\n${l.log.text()}`);
      assert.match(l.log.text(), /the Docker Engine went away during the transaction, and then the health window/);
      await l.runs(d2);
    });

    test(
      'dockerd stopped during a rollback, past what a step waits: the rollback is paused with its journal and ' +
        'finished when the Engine is back, never rollback-incomplete',
      async () => {
        const l = await lab('eng-rollback', 2_000);
        const d1 = await l.v('1');
        assert.equal((await l.reconcile(d1)).outcome?.status, 'applied', l.log.text());
        const before = await l.runs(d1);
        const d2 = await l.v('2');
        let down: Promise<void> | undefined;
        const failing = async () => {
          throw new Error('health check failed: api down');
        };
        await assert.rejects(
          l.reconcile(d2, {
            confirm: failing,
            // The Engine goes away as the undo begins, and stays away longer than a step waits for it.
            onFailure: async () => {
              down = env!.stopEngine();
              await down;
            },
          }),
          paused('engine-away', 'rolling-back'),
        );
        assert.equal(existsSync(join(l.stateDir, JOURNAL_FILE)), true, 'the journal is kept');
        await env!.startEngine();
        // The next reconcile (of any commit) finishes the rollback first, and the gateway is on v1 again.
        const r = await l.reconcile(d1);
        assert.equal(r.resumed?.action, 'rolled-back', l.log.text());
        assert.deepEqual(r.resumed?.undoErrors, []);
        assert.equal(r.resumed?.failure, 'health check failed: api down');
        const after = await l.runs(d1);
        assert.deepEqual(
          after.map((c) => c.Labels[LABEL.configHash]).sort(),
          before.map((c) => c.Labels[LABEL.configHash]).sort(),
        );
      },
    );

    test(
      'dockerd away during an apply past what a step waits: paused with its journal, then goes on forward ' +
        '(nothing put back and applied again)',
      async () => {
        const l = await lab('eng-pause', 2_000);
        assert.equal((await l.reconcile(await l.v('1'))).outcome?.status, 'applied', l.log.text());
        const d2 = await l.v('2');
        let down: Promise<void> | undefined;
        l.log.onLine = (msg) => {
          if (!down && /waits for db/.test(msg)) down = env!.stopEngine();
        };
        await assert.rejects(l.reconcile(d2), paused('engine-away'));
        await down;
        l.log.onLine = undefined;
        await env!.startEngine();
        const newDb = (await containersOf('eng-pause')).find(
          (c) =>
            c.Labels[LABEL.service] === 'db' &&
            c.Labels[LABEL.configHash] === d2.apps[0]!.services.find((s) => s.name === 'db')!.configHash,
        );
        const r = await l.reconcile(d2);
        assert.equal(r.resumed?.action, 'continued', l.log.text());
        assert.equal(r.outcome?.status, 'applied', `${r.outcome?.error}\n${l.log.text()}`);
        assert.doesNotMatch(l.log.text(), /undid /, 'nothing was put back');
        const cs = await l.runs(d2);
        if (newDb)
          assert.ok(
            cs.some((c) => c.Id === newDb.Id),
            'the database made before the pause is the one that runs: it was not made twice',
          );
      },
    );

    test('a container wedged by an Engine crash ("id already in use") is made anew, not started again', async () => {
      const l = await lab('eng-wedged');
      const d1 = await l.v('1');
      assert.equal((await l.reconcile(d1)).outcome?.status, 'applied', l.log.text());
      const app = (await containersOf('eng-wedged')).find((c) => c.Labels[LABEL.service] === 'app')!;
      await docker.getContainer(app.Id).stop({ t: 1 });
      const wedged = await env!.wedgeContainer(app.Id);
      leftovers.push(...wedged);
      await assert.rejects(docker.getContainer(app.Id).start(), /already in use|already exists/);
      // The drift check starts a stopped container; this one cannot start, so it is recreated from its definition.
      const r = await l.reconcile(d1);
      assert.equal(r.outcome?.status, 'applied', `${r.outcome?.error}\n${l.log.text()}`);
      assert.match(l.log.text(), /cannot start again .*made anew from its own definition/);
      const cs = await l.runs(d1);
      const again = cs.find((c) => c.Labels[LABEL.service] === 'app')!;
      assert.notEqual(again.Id, app.Id);
      const task = wedged[0]!;
      assert.ok(!running(task), `the task the Engine had lost (pid ${task}) was stopped, not left beside the new one`);
      assert.equal(again.Names[0], app.Names[0], 'the same name');
      assert.deepEqual(again.Labels, app.Labels, 'the same labels: the same service and configuration');
    });

    test(
      'the state disk full mid-transaction: paused, and once there is room it goes on from the journal ' +
        '(nothing rolled back and applied again)',
      async () => {
        const l = await lab('eng-disk');
        // The state directory on a small disk of its own.
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'rollgate-test-state', l.stateDir]);
        try {
          assert.equal((await l.reconcile(await l.v('1'))).outcome?.status, 'applied', l.log.text());
          const d2 = await l.v('2');
          const filler = join(l.stateDir, 'filler');
          let filled = false;
          l.log.onLine = (msg) => {
            if (filled || !/waits for db/.test(msg)) return;
            filled = true;
            // Everything the disk has left, as another program on the gateway would take it.
            mkdirSync(filler);
            for (let i = 0; ; i++) {
              try {
                writeFileSync(join(filler, String(i)), Buffer.alloc(64 * 1024));
              } catch {
                break;
              }
            }
          };
          await assert.rejects(l.reconcile(d2), paused('disk-full'));
          assert.ok(filled);
          l.log.onLine = undefined;
          rmSync(filler, { recursive: true });
          const r = await l.reconcile(d2);
          assert.equal(r.resumed?.action, 'continued', l.log.text());
          assert.equal(r.outcome?.status, 'applied', `${r.outcome?.error}\n${l.log.text()}`);
          assert.doesNotMatch(l.log.text(), /undid /, 'nothing was put back');
          await l.runs(d2);
        } finally {
          execFileSync('umount', ['-l', l.stateDir]);
        }
      },
    );
  },
);
