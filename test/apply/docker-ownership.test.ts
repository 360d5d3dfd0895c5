// Ownership (safety rule 10), tried as it went wrong on a gateway: `rollgate apply` from another
// state directory, of a fleet with no apps, used to remove the running app the first one had
// deployed and prune its image. Every object now carries its state directory's owner id; another
// instance reports the app and leaves it, and refuses to share its network or volume.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { DockerApplier, Engine, hostPaths, LABEL } from '../../src/apply/index.js';
import { silentLog } from '../../src/base/log.js';
import { plan as makePlan } from '../../src/plan/index.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { emptyObservedState } from '../../src/model/index.js';
import { AppRepo, GATEWAY } from '../helpers/app-repo.js';
import { rollgateWith } from '../helpers/cli.js';
import { removeApp, requireDocker } from '../helpers/docker-tests.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';

const env = requireDocker();

describe(
  'ownership: one Engine, two state directories (real Engine)',
  { skip: env ? false : 'no Docker Engine' },
  () => {
    let docker: Docker;
    let mine: AppRepo;
    let other: AppRepo;
    let stateA: string;
    let stateB: string;
    let web: string;

    const cli = (...args: string[]) => rollgateWith({ DOCKER_HOST: `unix://${env!.socket}` }, ...args);
    const apply = (repo: AppRepo, stateDir: string) =>
      cli('apply', '--repo', repo.dir, '--id', GATEWAY.id, '--state-dir', stateDir);
    const containers = async () =>
      docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL.app}=owned`] }) });
    const compose = (port: number) => `services:
  web:
    image: ${web}
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    init: true
    stop_grace_period: 1s
    ports: ["127.0.0.1:${port}:8080"]
    volumes: ["data:/data"]
volumes:
  data:
`;

    before(async () => {
      docker = new Docker({ socketPath: env!.socket });
      mine = new AppRepo();
      other = new AppRepo();
      stateA = tempDir('rollgate-owner-a-');
      stateB = tempDir('rollgate-owner-b-');
      web = await env!.image('owned/web', '1');
    });
    after(async () => {
      await removeApp(docker, 'owned', { networks: ['owned_default'], volumes: ['owned_data'] });
      cleanup(mine.dir);
      cleanup(other.dir);
      cleanup(stateA);
      cleanup(stateB);
    });

    test("the app carries its state directory's owner id on its container, network and volume", async () => {
      await mine.set({ owned: compose(18301) });
      const r = await apply(mine, stateA);
      assert.equal(r.code, 0, r.err);
      const owner = readFileSync(join(stateA, 'owner'), 'utf8').trim();
      assert.match(owner, /^[0-9a-f-]{36}$/);
      const [c] = await containers();
      assert.equal(c?.Labels[LABEL.owner], owner);
      assert.equal((await docker.getNetwork('owned_default').inspect()).Labels?.[LABEL.owner], owner);
      assert.equal((await docker.getVolume('owned_data').inspect()).Labels?.[LABEL.owner], owner);
    });

    test("the inventory a hub report carries lists the state directory's own containers only", async () => {
      const gateway = (stateDir: string) =>
        new Gateway({ stateDir, dockerHost: `unix://${env!.socket}`, interfacesDir: [tempDir()] }, silentLog);
      const own = await gateway(stateA).inventory();
      assert.deepEqual(
        own.containers.map((c) => [c.app, c.service, c.image, c.state]),
        [['owned', 'web', web, 'running']],
      );
      assert.deepEqual(own.components, []);
      const theirs = await gateway(stateB).inventory();
      assert.deepEqual(theirs.containers, [], "another state directory's gateway reports none of them");
    });

    test('apply of a fleet with no apps from another state directory removes nothing and prunes no image', async () => {
      await other.set({});
      const before = await containers();
      const r = await apply(other, stateB);
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, /app owned on this Engine belongs to another rollgate instance .*reported, never touched/);
      const after = await containers();
      assert.deepEqual(
        after.map((c) => [c.Id, c.State]),
        before.map((c) => [c.Id, c.State]),
      );
      assert.equal(after[0]?.State, 'running');
      await docker.getImage(web).inspect(); // still there
      const observed = await cli('observe', '--state-dir', stateB, '--output', 'json');
      assert.equal(observed.code, 0, observed.err);
      assert.deepEqual((JSON.parse(observed.out) as { containers: unknown[] }).containers, []);
    });

    test(
      'the same app name from another state directory is refused: ' + 'its network and volume are not shared',
      async () => {
        await other.set({ owned: compose(18302) });
        const before = await containers();
        const r = await apply(other, stateB);
        assert.notEqual(r.code, 0);
        // Both are made in the same stage, at once: whichever the Engine answers first refuses the apply.
        assert.match(r.err, /(network named owned_default|volume owned_data) belongs to another rollgate instance/);
        const owner = readFileSync(join(stateA, 'owner'), 'utf8').trim();
        assert.equal((await docker.getVolume('owned_data').inspect()).Labels?.[LABEL.owner], owner);
        const after = await containers();
        assert.deepEqual(
          after.map((c) => [c.Id, c.State]),
          before.map((c) => [c.Id, c.State]),
          "the first instance's container is untouched",
        );
      },
    );

    test('the owner can still change and remove its own app', async () => {
      await mine.set({});
      const r = await apply(mine, stateA);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(await containers(), []);
    });
  },
);

describe(
  'volumes_from across state directories: another instance’s data is not this app’s (real Engine)',
  { skip: env ? false : 'no Docker Engine' },
  () => {
    // The victim: app "vault" of state directory A, whose db keeps a secret in its volume. The
    // thief commits to B's fleet repo an app of the same name, on no network (so nothing of A's is
    // in its way), taking the volumes of "db": the applier looked "db" up by app and service
    // labels alone, and A's container answered.
    let docker: Docker;
    let victim: AppRepo;
    let thief: AppRepo;
    let stateA: string;
    let stateB: string;
    let image: string;
    const cli = (...args: string[]) => rollgateWith({ DOCKER_HOST: `unix://${env!.socket}` }, ...args);
    const sleeper = (extra: string) =>
      `    image: ${image}\n    command: ["sleep", "3600"]\n    init: true\n    stop_grace_period: 1s\n${extra}`;
    /** Containers that mount the victim's volume, other than the victim's own. */
    const mountingVault = async () =>
      (await docker.listContainers({ all: true })).filter(
        (c) =>
          c.Labels[LABEL.owner] !== readFileSync(join(stateA, 'owner'), 'utf8').trim() &&
          (c.Mounts ?? []).some((m) => m.Name === 'vault_data'),
      );

    before(async () => {
      docker = new Docker({ socketPath: env!.socket });
      victim = new AppRepo();
      thief = new AppRepo();
      stateA = tempDir('rollgate-vault-a-');
      stateB = tempDir('rollgate-vault-b-');
      image = await env!.image('vault/sh', '1');
      await victim.set({
        vault:
          'services:\n  db:\n' +
          sleeper(
            '    volumes: ["data:/data"]\n    post_start:\n      - command: [sh, -c, "echo s3cret > /data/secret"]\n',
          ) +
          'volumes:\n  data:\n',
      });
      const r = await cli('apply', '--repo', victim.dir, '--id', GATEWAY.id, '--state-dir', stateA);
      assert.equal(r.code, 0, r.err);
    });
    after(async () => {
      await removeApp(docker, 'vault', { networks: ['vault_default'], volumes: ['vault_data'] });
      cleanup(victim.dir);
      cleanup(thief.dir);
      cleanup(stateA);
      cleanup(stateB);
    });

    test('a service the thief’s file does not define: refused when it loads, nothing made', async () => {
      // Written as it is committed; that it does not load is what the apply below shows.
      await thief
        .set({ vault: `services:\n  thief:\n${sleeper('    network_mode: none\n    volumes_from: [db]\n')}` })
        .catch(() => undefined);
      const policyFile = join(stateB, '..', `${stateB.split('/').pop()}-policy.yaml`);
      writeFileSync(policyFile, 'policy:\n  allowPrivileged: false\n');
      const r = await cli(
        'apply',
        '--repo',
        thief.dir,
        '--id',
        GATEWAY.id,
        '--state-dir',
        stateB,
        '--policy-file',
        policyFile,
      );
      cleanup(policyFile);
      assert.deepEqual(await mountingVault(), [], "no container but the victim's mounts its volume");
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(r.err, /volumes_from: service "db" is not a service of this file/);
    });

    test('a service it defines too: the thief’s own container of it, never the other instance’s', async () => {
      // Its own "db" is created in the same stage as the thief, so it may not be there yet: the
      // lookup must come back empty rather than find A's.
      const desired = await thief.set({
        vault:
          `services:\n  db:\n${sleeper('    network_mode: none\n')}` +
          `  thief:\n${sleeper('    network_mode: none\n    volumes_from: [db]\n')}`,
      });
      const applier = new DockerApplier(new Engine({ socketPath: env!.socket }), {
        paths: hostPaths(stateB),
        owner: randomUUID(),
      });
      const p = makePlan(desired, emptyObservedState());
      const ctx = { txn: 'volumes-from-test', desired, plan: p, log: silentLog };
      const create = p.stages.flatMap((s) => s.steps).find((x) => x.kind === 'create' && x.id.endsWith('/thief'))!;
      await assert.rejects(
        applier.run(create, ctx),
        /vault\/thief takes volumes from service "db", which has no container/,
      );
      assert.deepEqual(await mountingVault(), [], "no container but the victim's mounts its volume");
    });
  },
);

describe(
  'ownership of volumes, read from the volume itself (real Engine)',
  { skip: env ? false : 'no Docker Engine' },
  () => {
    let docker: Docker;
    let repo: AppRepo;
    let state: string;
    let web: string;
    const OTHER = '00000000-0000-4000-8000-000000000000';

    const cli = (...args: string[]) => rollgateWith({ DOCKER_HOST: `unix://${env!.socket}` }, ...args);
    const apply = () => cli('apply', '--repo', repo.dir, '--id', GATEWAY.id, '--state-dir', state);
    const app = (port: number) => `services:
  web:
    image: ${web}
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    init: true
    stop_grace_period: 1s
    ports: ["127.0.0.1:${port}:8080"]
    volumes: ["data:/data"]
volumes:
  data:
`;

    before(async () => {
      docker = new Docker({ socketPath: env!.socket });
      repo = new AppRepo();
      state = tempDir('rollgate-volumes-');
      web = await env!.image('owned/web', '1');
    });
    after(async () => {
      for (const a of ['fresh', 'theirs', 'legacy'])
        await removeApp(docker, a, { networks: [`${a}_default`], volumes: [`${a}_data`] });
      cleanup(repo.dir);
      cleanup(state);
    });

    test('a volume rollgate makes carries its labels, and nothing claims it already existed', async () => {
      await repo.set({ fresh: app(18551) });
      const r = await apply();
      assert.equal(r.code, 0, r.err);
      assert.doesNotMatch(r.out + r.err, /already existed/);
      const owner = readFileSync(join(state, 'owner'), 'utf8').trim();
      const labels = (await docker.getVolume('fresh_data').inspect()).Labels;
      assert.equal(labels?.[LABEL.owner], owner);
      assert.equal(labels?.[LABEL.app], 'fresh');
      await repo.set({});
      assert.equal((await apply()).code, 0);
    });

    test("another instance's volume of the same name is refused, naming it; its labels and data are left", async () => {
      await docker.createVolume({
        Name: 'theirs_data',
        Labels: { [LABEL.app]: 'theirs', [LABEL.volume]: 'data', [LABEL.owner]: OTHER },
      });
      const mount = (await docker.getVolume('theirs_data').inspect()).Mountpoint;
      writeFileSync(join(mount, 'theirs.txt'), 'their data\n');
      await repo.set({ theirs: app(18552) });
      const r = await apply();
      assert.notEqual(r.code, 0, 'refused');
      assert.match(
        r.err,
        new RegExp(`volume theirs_data belongs to another rollgate instance \\(state directory owner ${OTHER}\\)`),
      );
      const labels = (await docker.getVolume('theirs_data').inspect()).Labels;
      assert.equal(labels?.[LABEL.owner], OTHER, 'its labels are as they were');
      assert.equal(readFileSync(join(mount, 'theirs.txt'), 'utf8'), 'their data\n');
      const mine = await docker.listContainers({
        all: true,
        filters: JSON.stringify({ label: [`${LABEL.app}=theirs`] }),
      });
      assert.deepEqual(mine, [], 'no container of the refused app is left');
      await repo.set({});
      await apply();
    });

    test(
      'a volume docker compose left (no rollgate labels) is adopted with its data, ' + 'said once, not planned again',
      async () => {
        await docker.createVolume({ Name: 'legacy_data', Labels: { 'com.docker.compose.project': 'legacy' } });
        const mount = (await docker.getVolume('legacy_data').inspect()).Mountpoint;
        writeFileSync(join(mount, 'old.txt'), 'written under docker compose\n');
        await repo.set({ legacy: app(18553) });
        const r = await apply();
        assert.equal(r.code, 0, r.err);
        const said = (r.out + r.err).match(/volume legacy_data already existed without rollgate's labels[^\n]*/g) ?? [];
        assert.equal(said.length, 1, `reported once: ${r.out}${r.err}`);
        assert.match(
          said[0]!,
          /made by docker compose for project "legacy"\); it is adopted as volume "data" of app "legacy"/,
        );
        const [c] = await docker.listContainers({ filters: JSON.stringify({ label: [`${LABEL.app}=legacy`] }) });
        assert.ok(
          c?.Mounts.some((m) => m.Name === 'legacy_data' && m.Destination === '/data'),
          'the container uses it',
        );
        assert.equal(readFileSync(join(mount, 'old.txt'), 'utf8'), 'written under docker compose\n');
        const again = await apply();
        assert.equal(again.code, 0, again.err);
        assert.match(again.out, /Nothing to apply/, 'the adopted volume is not planned again');
        await repo.set({});
        assert.equal((await apply()).code, 0);
        await docker.getVolume('legacy_data').inspect(); // never removed: it is not rollgate's
        assert.equal(readFileSync(join(mount, 'old.txt'), 'utf8'), 'written under docker compose\n');
      },
    );
  },
);
