// The gateway's policy against the real Engine, through `rollgate apply --policy-file` as an
// operator runs it. The Engine follows symlinks in bind sources, so the policy judges what a path
// resolves to on the gateway: a link under an allowed directory that points at /etc is /etc —
// whether it was there before the apply (refused before anything runs) or a container planted it
// during the apply (refused right before the next container is created, and rolled back). And a
// commit the policy refuses when it loads never reaches the Engine.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { DockerApplier, Engine, hostPaths, LABEL, RefusedError } from '../../src/apply/index.js';
import { silentLog } from '../../src/base/log.js';
import { plan as makePlan } from '../../src/plan/index.js';
import { emptyObservedState } from '../../src/model/index.js';
import { AppRepo, GATEWAY } from '../helpers/app-repo.js';
import { rollgateWith } from '../helpers/cli.js';
import { removeApp, requireDocker } from '../helpers/docker-tests.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';

const env = requireDocker();

describe(
  'the gateway policy at apply time (real Engine)',
  { skip: env ? false : 'no Docker Engine (see the line above)' },
  () => {
    let docker: Docker;
    let repo: AppRepo;
    let stateDir: string;
    let root: string;
    let allowed: string;
    let policyFile: string;
    let image: string;
    const apps = ['linked', 'planted', 'victim', 'datadir', 'swapped', 'loadtime', 'adopt', 'escape'];

    const apply = (...extra: string[]) =>
      rollgateWith(
        { DOCKER_HOST: `unix://${env!.socket}` },
        'apply',
        '--repo',
        repo.dir,
        '--id',
        GATEWAY.id,
        '--state-dir',
        stateDir,
        '--policy-file',
        policyFile,
        ...extra,
      );
    const containers = async (app: string) =>
      docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL.app}=${app}`] }) });
    const policy = (yaml: string) => writeFileSync(policyFile, `policy:\n${yaml}`);
    /** A service that sleeps; its extra keys indented for the service. */
    const service = (name: string, extra: string) =>
      `  ${name}:\n    image: ${image}\n    command: ["sleep", "3600"]\n    init: true\n` +
      `    stop_grace_period: 1s\n${extra}`;

    before(async () => {
      docker = new Docker({ socketPath: env!.socket });
      repo = new AppRepo();
      stateDir = tempDir('rollgate-policy-state-');
      root = tempDir('rollgate-policy-host-');
      allowed = join(root, 'allowed');
      mkdirSync(allowed, { recursive: true });
      policyFile = join(root, 'gateway.yaml');
      image = await env!.image('policy/sh', '1');
    });
    after(async () => {
      for (const app of apps) await removeApp(docker, app, { networks: [`${app}_default`] });
      await docker
        .getVolume('adopt_data')
        .remove()
        .catch(() => {});
      cleanup(repo.dir);
      cleanup(stateDir);
      cleanup(root);
    });

    test('a bind source that is a link under an allowed directory to /etc: refused, no container made', async () => {
      symlinkSync('/etc', join(allowed, 'etc-link'));
      // A dangling link: following it, a missing bind source would be made at its target.
      symlinkSync('/etc/rollgate-policy-test-made-here', join(allowed, 'new-link'));
      policy(`  bindPaths: [${allowed}]\n`);
      await repo.set({
        linked: `services:\n${service('web', `    volumes: ["${allowed}/etc-link:/host-etc:ro"]\n`)}`,
      });
      const r = await apply();
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(r.err, /nothing was changed/);
      assert.match(
        r.err,
        new RegExp(
          `forbidden by this gateway's policy\\.bindPaths: linked/web: bind mount of /etc is not allowed.*` +
            `${allowed}/etc-link resolves to /etc on this gateway`,
        ),
      );
      assert.deepEqual(await containers('linked'), [], 'no container was created');

      await repo.set({
        linked: `services:\n${service('web', `    volumes: ["${allowed}/new-link/sub:/x"]\n`)}`,
      });
      const dangling = await apply();
      assert.equal(dangling.code, 1, dangling.out + dangling.err);
      assert.match(dangling.err, /resolves to \/etc\/rollgate-policy-test-made-here\/sub on this gateway/);
      assert.equal(existsSync('/etc/rollgate-policy-test-made-here'), false, 'nothing was made outside');
      assert.deepEqual(await containers('linked'), []);
    });

    test('a link a container plants during the apply: refused right before the next container is created', async () => {
      // The first app (order 10) mounts the allowed directory and, in its post_start hook, plants a
      // link to /etc there; the second (order 20) binds that path, which did not exist when the apply began.
      policy(`  bindPaths: [${allowed}]\n`);
      await repo.set({
        planted:
          'x-rollgate: { order: 10 }\nservices:\n' +
          service(
            'planter',
            `    volumes: ["${allowed}:/w"]\n    post_start:\n      - command: [ln, -s, /etc, /w/x]\n`,
          ),
        victim: 'x-rollgate: { order: 20 }\nservices:\n' + service('web', `    volumes: ["${allowed}/x:/etc2:ro"]\n`),
      });
      const r = await apply('--output', 'json');
      assert.equal(r.code, 3, r.out + r.err);
      const out = JSON.parse(r.out) as { outcome: { status: string; refused?: string; error: string } };
      assert.equal(out.outcome.status, 'rolled-back');
      assert.equal(out.outcome.refused, 'forbidden', 'recorded as a policy breach');
      assert.match(out.outcome.error, /create service\/victim\/web: forbidden by this gateway's policy\.bindPaths/);
      assert.match(out.outcome.error, new RegExp(`${allowed}/x resolves to /etc on this gateway`));
      assert.deepEqual(await containers('victim'), [], 'the victim was never created');
      assert.deepEqual(await containers('planted'), [], 'and the planter was rolled back');
    });

    test('a data directory a container wrote a link into: it must resolve inside the state directory', async () => {
      // Relative binds the repo does not hold are data directories, always allowed — as long as
      // they resolve inside the state directory. The container writes a link to /etc into its own.
      policy('  allowPrivileged: false\n');
      const writer = service(
        'writer',
        '    volumes: ["./shared:/w"]\n    post_start:\n      - command: [ln, -s, /etc, /w/x]\n',
      );
      await repo.set({ datadir: `services:\n${writer}` });
      const first = await apply();
      assert.equal(first.code, 0, first.out + first.err);
      await repo.set({
        datadir: `services:\n${writer}${service('reader', '    volumes: ["./shared/x:/etc2:ro"]\n')}`,
      });
      const r = await apply();
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(r.err, /nothing was changed/);
      assert.match(r.err, /datadir\/reader: bind mount of \/etc is not allowed.*\/shared\/x resolves to \/etc/);
      const running = await containers('datadir');
      assert.deepEqual(
        running.map((c) => c.Labels[LABEL.service]),
        ['writer'],
        'the reader was never created; the writer runs on',
      );
    });

    test('a link swapped in between create and start: refused at the start, where the Engine resolves', async () => {
      const d = await repo.set({ swapped: `services:\n${service('web', `    volumes: ["${allowed}/swap:/e:ro"]\n`)}` });
      const applier = new DockerApplier(new Engine({ socketPath: env!.socket }), {
        paths: hostPaths(stateDir),
        policy: { bindPaths: [allowed] },
      });
      const p = makePlan(d, emptyObservedState());
      const ctx = { txn: 'swap-test-txn', desired: d, plan: p, log: silentLog };
      const steps = p.stages.flatMap((s) => s.steps);
      for (const s of p.prepare) await applier.run(s, ctx);
      for (const s of steps.filter((x) => x.kind === 'create-network' || x.kind === 'create'))
        await applier.run(s, ctx);
      assert.equal((await containers('swapped')).length, 1, 'created, with the bind source a directory it made');
      // What a container with the allowed directory mounted read-write can do at any moment.
      rmSync(join(allowed, 'swap'), { recursive: true });
      symlinkSync('/etc', join(allowed, 'swap'));
      const start = steps.find((x) => x.kind === 'start')!;
      await assert.rejects(
        applier.run(start, ctx),
        (e: unknown) =>
          e instanceof RefusedError &&
          e.kind === 'forbidden' &&
          /swap resolves to \/etc on this gateway/.test(e.message),
      );
      const [c] = await containers('swapped');
      assert.notEqual(c!.State, 'running', 'it was never started');
    });

    test('refused when the commit loads: rollgate apply stops before the Engine sees anything', async () => {
      policy(`  bindPaths: [${allowed}]\n`);
      await repo.set({
        loadtime:
          `services:\n${service('web', '    networks: [h]\n    volumes: ["rootfs:/host"]\n')}` +
          'networks:\n  h:\n    external: true\n    name: host\n' +
          'volumes:\n  rootfs:\n    driver_opts: { type: none, o: bind, device: / }\n',
      });
      const r = await apply();
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(r.err, /the commit asks for more than the gateway's policy allows; nothing was planned/);
      assert.match(r.err, /policy\.allowHostNetwork/);
      assert.match(r.err, /policy\.bindPaths: volume "rootfs" binds \/ is not allowed/);
      assert.deepEqual(await containers('loadtime'), []);
      const volumes = (await docker.listVolumes()).Volumes ?? [];
      assert.ok(!volumes.some((v) => v.Name === 'loadtime_rootfs'), 'no volume was made');
    });

    test('a volume on the gateway that rollgate did not make: used only if externalVolumes names it', async () => {
      await docker.createVolume({ Name: 'adopt_data' }); // as `docker compose up` of project "adopt" left it
      await repo.set({ adopt: `services:\n${service('db', '    volumes: ["data:/data"]\n')}volumes:\n  data:\n` });
      policy('  allowPrivileged: false\n');
      const r = await apply();
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(r.err, /policy\.externalVolumes: .*volume adopt_data is already on the gateway/);
      assert.deepEqual(await containers('adopt'), []);
      policy('  externalVolumes: [adopt_data]\n');
      const ok = await apply();
      assert.equal(ok.code, 0, ok.out + ok.err);
      assert.equal((await containers('adopt')).length, 1);
    });

    test('a config named as a path: refused when it loads, nothing written outside the files directory', async () => {
      // The name was the file's name under <state-dir>/files/<app>/<hash>/, so "../../…/x" wrote x
      // there as root, before anything ran — under a policy wherever the bind checks let it land
      // (and a container with an allowed directory could swap a link in before the write),
      // without one anywhere (/etc/cron.d).
      const landing = join(root, 'escaped');
      const name = `${'../'.repeat(16)}${landing.slice(1)}/cron`;
      // Written as it is committed; that it does not load is what the applies below show.
      await repo
        .set({
          escape:
            `services:\n${service('web', `    configs: ["${name}"]\n`)}` +
            `configs:\n  "${name}":\n    content: "* * * * * root id\\n"\n`,
        })
        .catch(() => undefined);
      for (const underPolicy of [true, false]) {
        policy(`  bindPaths: [${root}]\n`);
        const r = underPolicy
          ? await apply()
          : await rollgateWith(
              { DOCKER_HOST: `unix://${env!.socket}` },
              'apply',
              '--repo',
              repo.dir,
              '--id',
              GATEWAY.id,
              '--state-dir',
              stateDir,
            );
        assert.equal(existsSync(join(landing, 'cron')), false, `nothing written there (policy: ${underPolicy})`);
        assert.equal(r.code, 1, r.out + r.err);
        assert.match(r.err, /config name ".*\/cron" is not allowed: use letters, digits/);
        assert.deepEqual(await containers('escape'), []);
      }
    });
  },
);
