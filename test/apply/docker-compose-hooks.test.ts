// Compose lifecycle hooks on the real Engine: `post_start` runs in the new container after it
// starts (with its user, working_dir and environment), and a failing one rolls the service back;
// `pre_stop` runs in the old container before it stops, and a failing one is logged while the stop
// goes on. `rollgate diff` shows both where they run.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { DockerApplier, Engine, hostPaths, LABEL } from '../../src/apply/index.js';
import type { Log } from '../../src/base/log.js';
import { renderPlan } from '../../src/cli/render.js';
import { plan } from '../../src/plan/index.js';
import { observeGateway } from '../../src/apply/index.js';
import { reconcileOnce } from '../../src/gateway/reconcile.js';
import type { DesiredState, StateScript } from '../../src/model/index.js';
import { AppRepo } from '../helpers/app-repo.js';
import { exec } from '../helpers/container-io.js';
import { removeApp, requireDocker } from '../helpers/docker-tests.js';
import { Lines } from '../helpers/log-lines.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';

const env = requireDocker();

describe('Compose lifecycle hooks on the real Engine', { skip: env ? false : 'no Docker Engine' }, () => {
  let engine: Engine;
  let docker: Docker;
  let stateDir: string;
  let repo: AppRepo;
  let web: string;

  const applier = () => new DockerApplier(engine, { paths: hostPaths(stateDir), preStopTimeoutMs: 5_000 });
  const reconcile = (d: DesiredState, log: Log) => reconcileOnce(d, { docker: applier(), stateDir, log });
  const containers = async () =>
    docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL.app}=hooks`] }) });

  /** A web service; `marker` lands in /data/log through the hooks, which a volume keeps across containers. */
  const compose = (v: string, postStart: string, preStop: string) => `services:
  web:
    image: ${web}
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    init: true
    stop_grace_period: 1s
    environment: { V: "${v}" }
    volumes: ["data:/data"]
    post_start:
      - command: ${postStart}
        working_dir: /data
        environment: { WHO: post-start }
    pre_stop:
      - command: ${preStop}
volumes:
  data:
`;
  const log = async () => {
    const [c] = (await containers()).filter((x) => x.State === 'running');
    return c ? exec(docker, c.Id, ['cat', '/data/log']) : '';
  };

  before(async () => {
    engine = new Engine({ socketPath: env!.socket, reconnectMs: 60_000 });
    docker = engine.docker;
    stateDir = tempDir('rollgate-hooks-');
    repo = new AppRepo();
    web = await env!.image('hooks/web', '1');
  });
  after(async () => {
    await removeApp(docker, 'hooks', { networks: ['hooks_default'], volumes: ['hooks_data'] });
    cleanup(stateDir);
    cleanup(repo.dir);
  });

  test('post_start runs in the new container, with its working_dir and environment', async () => {
    const lines = new Lines();
    const d = await repo.set({
      hooks: compose(
        '1',
        `["sh", "-c", "echo $$WHO v1 in $$(pwd) >> log"]`,
        `["sh", "-c", "echo stop v1 >> /data/log"]`,
      ),
    });
    const r = await reconcile(d, lines);
    assert.equal(r.outcome?.status, 'applied', r.outcome?.error);
    assert.equal(await log(), 'post-start v1 in /data');
    assert.match(lines.text, /post_start hook 1 of hooks\/web \(sh -c echo \$WHO v1 in \$\(pwd\) >> log\) ran/);
  });

  test('rollgate diff shows the pre_stop of the old container and the post_start of the new one', async () => {
    const d = await repo.set({
      hooks: compose(
        '2',
        `["sh", "-c", "echo post-start v2 >> /data/log"]`,
        `["sh", "-c", "echo stop v2 >> /data/log"]`,
      ),
    });
    const observed = await observeGateway({ docker: applier() }, d);
    const text = renderPlan(plan(d, observed), { colour: false });
    assert.match(text, /pre_stop: sh -c echo stop v1 >> \/data\/log/);
    assert.match(text, /post_start: sh -c echo post-start v2 >> \/data\/log/);
  });

  test('pre_stop runs in the old container before it stops; then the new one starts', async () => {
    const d = await repo.set({
      hooks: compose(
        '2',
        `["sh", "-c", "echo post-start v2 >> /data/log"]`,
        `["sh", "-c", "echo stop v2 >> /data/log"]`,
      ),
    });
    const r = await reconcile(d, new Lines());
    assert.equal(r.outcome?.status, 'applied', r.outcome?.error);
    assert.deepEqual((await log()).split('\n'), ['post-start v1 in /data', 'stop v1', 'post-start v2']);
  });

  test('a failing post_start fails the start: the service is rolled back to the running version', async () => {
    const before = (await containers()).filter((c) => c.State === 'running').map((c) => c.Id);
    const d = await repo.set({
      hooks: compose('3', `["sh", "-c", "echo broken >&2; exit 7"]`, `["sh", "-c", "echo stop v3 >> /data/log"]`),
    });
    const r = await reconcile(d, new Lines());
    assert.equal(r.outcome?.status, 'rolled-back');
    assert.match(
      r.outcome?.error ?? '',
      /post_start hook 1 of hooks\/web \(sh -c echo broken >&2; exit 7\) exited with code 7: broken/,
    );
    const after = (await containers()).filter((c) => c.State === 'running').map((c) => c.Id);
    assert.deepEqual(after, before, 'the previous container runs again');
    // Its pre_stop ran when it was stopped for the update, before the rollback started it again.
    assert.match(await log(), /stop v2$/);
  });

  test('a failing or hanging pre_stop is logged and the stop goes on', async () => {
    await repo.set({
      hooks: compose('4', `["sh", "-c", "true"]`, `["sh", "-c", "exit 3"]`),
    });
    const lines = new Lines();
    let r = await reconcile(await repo.load(), lines);
    assert.equal(r.outcome?.status, 'applied', r.outcome?.error);
    await repo.set({ hooks: compose('5', `["sh", "-c", "true"]`, `["sleep", "60"]`) });
    r = await reconcile(await repo.load(), lines);
    assert.equal(r.outcome?.status, 'applied', r.outcome?.error);
    await repo.set({ hooks: compose('6', `["sh", "-c", "true"]`, `["sh", "-c", "true"]`) });
    r = await reconcile(await repo.load(), lines);
    assert.equal(r.outcome?.status, 'applied', r.outcome?.error);
    assert.match(lines.text, /pre_stop hook 1 of hooks\/web \(sh -c exit 3\) exited with code 3; the stop goes on/);
    assert.match(lines.text, /pre_stop hook 1 of hooks\/web \(sleep 60\) did not end within 5 s; the stop goes on/);
  });

  test('Apps state scripts run around the containers of a change; a failing Apps_Enter changes nothing', async () => {
    const marks = join(stateDir, 'marks.log');
    const script = (name: string, body: string): StateScript => {
      const text = `#!/bin/sh\necho ${name} >> ${marks}\n${body}\n`;
      const [state, action] = name.split('_') as [StateScript['state'], StateScript['action']];
      return {
        name,
        state,
        action,
        base64: Buffer.from(text).toString('base64'),
        sha256: createHash('sha256').update(text).digest('hex'),
      };
    };
    const withScripts = async (v: string, scripts: StateScript[]) => ({
      ...(await repo.set({ hooks: compose(v, '["true"]', '["true"]') })),
      stateScripts: scripts,
    });
    let r = await reconcile(
      await withScripts('7', [script('Apps_Enter_00', 'exit 0'), script('Apps_Leave_00', 'exit 0')]),
      new Lines(),
    );
    assert.equal(r.outcome?.status, 'applied', r.outcome?.error);
    assert.deepEqual(readFileSync(marks, 'utf8').trim().split('\n'), ['Apps_Enter_00', 'Apps_Leave_00']);
    const before = (await containers()).map((c) => [c.Id, c.State]);
    r = await reconcile(await withScripts('8', [script('Apps_Enter_00', 'exit 4')]), new Lines());
    assert.equal(r.outcome?.status, 'rolled-back');
    assert.match(r.outcome?.error ?? '', /state script Apps_Enter_00 exited with code 4/);
    assert.deepEqual(
      (await containers()).map((c) => [c.Id, c.State]),
      before,
      'no container was touched',
    );
  });
});
