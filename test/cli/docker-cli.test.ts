// `rollgate apply`, `rollgate observe` and `rollgate diff --against live` as separate processes
// against the real Engine, and `rollgate apply` killed with SIGKILL at every kind of step.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { LABEL } from '../../src/apply/index.js';
import { JOURNAL_FILE } from '../../src/gateway/reconcile.js';
import type { DesiredState, Plan } from '../../src/model/index.js';
import { AppRepo, GATEWAY } from '../helpers/app-repo.js';
import { rollgateWith } from '../helpers/cli.js';
import { requireDocker } from '../helpers/docker-tests.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';

const env = requireDocker();

describe(
  'rollgate apply, observe and diff --against live (real Engine)',
  { skip: env ? false : 'no Docker Engine (see the line above)' },
  () => {
    let docker: Docker;
    let repo: AppRepo;
    let stateDir: string;
    let web1: string;
    let web2: string;
    let worker: string;
    const apps = ['cli', 'kill'];

    const cli = (extraEnv: Record<string, string>, ...args: string[]) =>
      rollgateWith({ DOCKER_HOST: `unix://${env!.socket}`, ...extraEnv }, ...args);
    const apply = (extraEnv: Record<string, string> = {}) =>
      cli(extraEnv, 'apply', '--repo', repo.dir, '--id', GATEWAY.id, '--state-dir', stateDir);
    const containers = async (app: string) =>
      docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL.app}=${app}`] }) });

    const compose = (app: string, web: string, v: string, port: number) => `services:
  web:
    image: ${web}
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    init: true
    stop_grace_period: 1s
    ports: ["127.0.0.1:${port}:8080"]
    volumes: ["data:/data"]
  worker:
    image: ${worker}
    init: true
    environment: { V: "${v}" }
    depends_on: [web]
volumes:
  data:
`;

    before(async () => {
      docker = new Docker({ socketPath: env!.socket });
      repo = new AppRepo();
      stateDir = tempDir('rollgate-cli-state-');
      web1 = await env!.image('cli/web', '1');
      web2 = await env!.image('cli/web', '2');
      worker = await env!.image('cli/worker', '1');
    });
    after(async () => {
      for (const a of apps)
        for (const c of await containers(a))
          await docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => {});
      cleanup(repo.dir);
      cleanup(stateDir);
    });

    test('diff --against live shows what apply then does; observe --save gives the same plan offline', async () => {
      await repo.set({ cli: compose('cli', web1, '1', 18201) });
      const first = await apply();
      assert.equal(first.code, 0, first.err);
      assert.match(first.out, /Applied\./);
      await repo.set({ cli: compose('cli', web2, '1', 18201) });

      const diff = await cli(
        {},
        'diff',
        '--repo',
        repo.dir,
        '--id',
        GATEWAY.id,
        '--against',
        'live',
        '--output',
        'json',
      );
      assert.equal(diff.code, 2, diff.err);
      const live = JSON.parse(diff.out) as Plan;
      assert.match(live.against, /^live gateway \(Docker Engine at unix:\/\//);
      assert.deepEqual(
        live.changes.map((c) => `${c.action} ${c.target.kind === 'service' ? c.target.service : c.target.kind}`),
        ['change web'],
      );
      assert.deepEqual(live.unchanged.services, ['cli/worker']);

      const saved = join(stateDir, 'observed.json');
      const obs = await cli({}, 'observe', '--save', saved);
      assert.equal(obs.code, 0, obs.err);
      const offline = await cli(
        {},
        'diff',
        '--repo',
        repo.dir,
        '--id',
        GATEWAY.id,
        '--against',
        `file:${saved}`,
        '--output',
        'json',
      );
      assert.equal(offline.code, 2, offline.err);
      const planned = JSON.parse(offline.out) as Plan;
      assert.deepEqual(planned.stages, live.stages, 'the saved observation plans exactly like the live one');

      const applied = await apply({});
      assert.equal(applied.code, 0, applied.err);
      const res = await cli(
        {},
        'apply',
        '--repo',
        repo.dir,
        '--id',
        GATEWAY.id,
        '--state-dir',
        stateDir,
        '--output',
        'json',
      );
      const again = JSON.parse(res.out) as { plan: Plan; outcome: unknown };
      assert.equal(again.plan.changes.length, 0);
      assert.equal(again.outcome, null);
      assert.equal((await containers('cli')).length, 2);
    });

    test('an Engine that is not there: a gateway without Docker, said naming the socket', async () => {
      // As without DOCKER_HOST (test/cli/errors.test.ts): no socket is no Engine, however it was named.
      const r = await rollgateWith({ DOCKER_HOST: 'unix:///nonexistent/docker.sock' }, 'observe');
      assert.equal(r.code, 0, r.err);
      assert.match(
        r.err,
        /Docker Engine unreachable at unix:\/\/\/nonexistent\/docker\.sock: the socket does not exist .*; containers/,
      );
    });

    /** Every kind of step, plus the phase boundaries; each is a real SIGKILL of `rollgate apply`. */
    const KILL_POINTS = [
      'pull:1',
      'stages:1',
      'create-network:1',
      'create-volume:1',
      'create:1',
      'start:1',
      'create:2',
      'stop:1',
      'stop:2',
      'start:2',
      'finalize:1',
      'finalize:2',
    ];
    for (const point of KILL_POINTS) {
      test(`killed at ${point}, started again: it ends on the new state or the old, with no orphan`, async () => {
        // The old state: web on 1, worker at V=1, in an app whose network and volume exist...
        // unless the kill point is in creating them, which needs a fresh app.
        const fresh = point.startsWith('create-network') || point.startsWith('create-volume');
        for (const c of await containers('kill')) await docker.getContainer(c.Id).remove({ force: true });
        if (fresh) {
          await docker
            .getNetwork('kill_default')
            .remove()
            .catch(() => {});
          await docker
            .getVolume('kill_data')
            .remove()
            .catch(() => {});
        }
        await docker
          .getImage(web2)
          .remove()
          .catch(() => {}); // so the pull happens
        if (!fresh) {
          await repo.set({ kill: compose('kill', web1, '1', 18202) });
          const setup = await apply();
          assert.equal(setup.code, 0, setup.err);
        }
        const before = new Set((await containers('kill')).map((c) => c.Id));
        const d: DesiredState = await repo.set({ kill: compose('kill', web2, '2', 18202) });

        const killed = await apply({ ROLLGATE_CRASH_AT: point });
        assert.equal(killed.signal, 'SIGKILL', `the crash point ${point} was reached: ${killed.out}${killed.err}`);
        const journal = join(stateDir, JOURNAL_FILE);
        assert.ok(existsSync(journal), 'the journal of the interrupted apply is on disk');
        const j = JSON.parse(readFileSync(journal, 'utf8')) as { txn: string; phase: string };
        assert.ok(j.txn, 'the journal is readable');

        const resumed = await apply();
        assert.equal(resumed.code, 0, resumed.out + resumed.err);
        assert.match(
          resumed.out,
          j.phase === 'finalize'
            ? /was finished/
            : j.phase === 'prepare'
              ? /dropped \(nothing had been touched\)/
              : /was put back/,
        );
        assert.equal(existsSync(journal), false);

        const after = await containers('kill');
        assert.equal(after.length, 2, `one container per service: ${after.map((c) => c.Names[0]).join(', ')}`);
        for (const c of after) {
          assert.equal(c.State, 'running');
          assert.equal(
            c.Labels[LABEL.configHash],
            d.apps[0]!.services.find((s) => s.name === c.Labels[LABEL.service])!.configHash,
          );
          assert.ok(!before.has(c.Id), 'every container of the old state is gone');
        }
        const res = await fetch('http://127.0.0.1:18202/');
        assert.equal((await res.text()).trim(), 'version cli/web:2');
      });
    }

    test('killed while rolling back, started again: the rollback completes and the old state runs', async () => {
      for (const c of await containers('kill')) await docker.getContainer(c.Id).remove({ force: true });
      await repo.set({ kill: compose('kill', web1, '1', 18203) });
      assert.equal((await apply()).code, 0);
      const before = Object.fromEntries((await containers('kill')).map((c) => [c.Labels[LABEL.service]!, c.Id]));
      await repo.set({ kill: compose('kill', web2, '2', 18204) });
      const blocker: Server = createServer();
      await new Promise<void>((r) => blocker.listen(18204, '127.0.0.1', () => r()));
      try {
        const killed = await apply({ ROLLGATE_CRASH_AT: 'undo:2' });
        assert.equal(killed.signal, 'SIGKILL', killed.out + killed.err);
        assert.equal(
          (JSON.parse(readFileSync(join(stateDir, JOURNAL_FILE), 'utf8')) as { phase: string }).phase,
          'rolling-back',
        );
        // Started again with the port still taken: it puts the interrupted apply back, tries the
        // commit again, fails on the port again, and puts that back too.
        const again = await apply();
        assert.equal(again.code, 3, again.out + again.err);
        assert.match(again.out, /was put back/);
        assert.match(again.err, /ROLLED BACK: .*port 127\.0\.0\.1:18204 is already in use/);
      } finally {
        blocker.close();
      }
      const after = Object.fromEntries(
        (await containers('kill')).map((c) => [c.Labels[LABEL.service]!, [c.Id, c.State]]),
      );
      assert.deepEqual(after, Object.fromEntries(Object.entries(before).map(([k, id]) => [k, [id, 'running']])));
    });
  },
);
