// Mender Orchestrator's public demo (test/fixtures/mender-demo/SOURCE.md), unchanged: its
// manifests in both shapes, its own rtos interface and mock instances, its premade artifacts,
// through `rollgate apply` and `rollgate diff --against live`, and its current form (manifest and
// topology). Artifacts by name from a store, and the version check after ArtifactCommit, are in
// mender-artifacts.test.ts.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DirectorySource, validateFleetRepo } from '../../src/manifest/index.js';
import { readArtifactHeader } from '../../src/manifest/index.js';
import { rollgate } from '../helpers/cli.js';
import { requireMenderTools } from '../helpers/devices.js';
import { cleanup, projectRoot, tempDir } from '../helpers/fixtures.js';
import { buildAsReadme, DEMO, FLEET } from '../helpers/mender-demo.js';

const skip = requireMenderTools();

describe("Mender Orchestrator's demo, unchanged", { skip: skip ?? false }, () => {
  let root: string;
  let repo: string;
  let env: string;
  let ifaces: string;
  let state: string;
  const instance = (id: string, file: string) => join(env, 'mock_env/mock_instances', id, file);
  const versionOf = (id: string) => /^version=(.*)$/m.exec(readFileSync(instance(id, 'Provides'), 'utf8'))?.[1];
  const versions = () => ({ G13: versionOf('G13'), R456: versionOf('R456'), R998: versionOf('R998') });
  const gateway = () => ['--repo', repo, '--id', 'gw-demo', '--state-dir', state, '--interfaces-dir', ifaces];

  before(() => {
    root = tempDir('rollgate-mender-demo-');
    repo = join(root, 'fleet');
    env = join(root, 'env');
    state = join(root, 'state');
    cpSync(join(DEMO, 'pregenerated_env'), env, { recursive: true });
    ifaces = join(env, 'share/mender-update-orchestrator/update-interfaces/v1');
    // The demo's mock interface stands in for the gateway's rootfs-image (see SOURCE.md).
    copyFileSync(join(ifaces, 'rtos'), join(ifaces, 'rootfs-image'));
    chmodSync(join(ifaces, 'rootfs-image'), 0o755);
    mkdirSync(join(repo, 'artifacts'), { recursive: true });
    mkdirSync(join(repo, 'manifests'), { recursive: true });
    for (const v of ['rtos-v1', 'rtos-v2'])
      copyFileSync(join(DEMO, 'premade-artifacts', `${v}.mender`), join(repo, 'artifacts', `${v}.mender`));
    for (const v of ['gateway-v1', 'gateway-v2']) buildAsReadme(join(repo, 'artifacts'), 'gateway', v, 'rootfs-image');
    for (const f of ['manifest-v1.yaml', 'manifest-v2.yaml', 'manifest-v1.mender', 'manifest-v2.mender'])
      copyFileSync(join(DEMO, 'premade-artifacts', f), join(repo, 'manifests', f));
  });
  after(() => cleanup(root));

  test("the premade rtos artifacts are what the README's command builds", async () => {
    const dir = join(root, 'rebuilt');
    mkdirSync(dir);
    for (const v of ['rtos-v1', 'rtos-v2']) {
      const premade = await readArtifactHeader(readFileSync(join(DEMO, 'premade-artifacts', `${v}.mender`)));
      const rebuilt = await readArtifactHeader(readFileSync(buildAsReadme(dir, 'rtos', v)));
      assert.deepEqual(rebuilt, premade);
    }
  });

  test('v1 from the YAML manifest, v2 from the manifest artifact; diff against live is empty after each', async () => {
    writeFileSync(join(repo, 'rollgate.yaml'), FLEET('manifests/manifest-v1.yaml'));
    const v1 = await rollgate('apply', ...gateway());
    assert.equal(v1.code, 0, v1.err);
    assert.deepEqual(versions(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' });
    const again = await rollgate('diff', ...gateway(), '--against', 'live');
    assert.equal(again.code, 0, `nothing left to change:\n${again.out}${again.err}`);

    writeFileSync(join(repo, 'rollgate.yaml'), FLEET('manifests/manifest-v2.mender'));
    const plan = await rollgate('diff', ...gateway(), '--against', 'live', '--output', 'json');
    assert.equal(plan.code, 2);
    const steps = JSON.parse(plan.out) as {
      stages: { name: string; steps: { kind: string; target: { key?: string } }[] }[];
    };
    assert.deepEqual(
      steps.stages.map((s) => [s.name, s.steps.filter((x) => x.kind === 'install').map((x) => x.target.key)]),
      [
        ['group 10', ['G13']],
        ['group 20', ['R456', 'R998']],
      ],
      'the gateway before the RTOS devices',
    );
    const v2 = await rollgate('apply', ...gateway());
    assert.equal(v2.code, 0, v2.err);
    assert.deepEqual(versions(), { G13: 'gateway-v2', R456: 'rtos-v2', R998: 'rtos-v2' });
    assert.equal((await rollgate('diff', ...gateway(), '--against', 'live')).code, 0);
  });

  test("a failing install on one RTOS device rolls every component back through the demo's interface", async () => {
    writeFileSync(join(repo, 'rollgate.yaml'), FLEET('manifests/manifest-v1.mender'));
    writeFileSync(instance('R998', 'ArtifactInstall.FAIL'), '');
    try {
      const r = await rollgate('apply', ...gateway());
      assert.equal(r.code, 3, r.err);
      assert.match(r.err, /ROLLED BACK/);
      assert.deepEqual(versions(), { G13: 'gateway-v2', R456: 'rtos-v2', R998: 'rtos-v2' });
    } finally {
      rmSync(instance('R998', 'ArtifactInstall.FAIL'));
    }
    assert.equal((await rollgate('apply', ...gateway())).code, 0);
    assert.deepEqual(versions(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' });
  });

  test(
    'an artifact name the repo does not hold, and an artifact for another device type, are refused where ' +
      'they are named',
    async () => {
      const broken = join(root, 'broken');
      cpSync(repo, broken, { recursive: true });
      writeFileSync(
        join(broken, 'manifests/manifest-v1.yaml'),
        readFileSync(join(broken, 'manifests/manifest-v1.yaml'), 'utf8').replace(
          'artifact_name: rtos-v1',
          'artifact_name: rtos-v7',
        ),
      );
      // replaces gateway-v1 with one built for a modem
      buildAsReadme(join(broken, 'artifacts'), 'modem', 'gateway-v1', 'rootfs-image');
      writeFileSync(join(broken, 'rollgate.yaml'), FLEET('manifests/manifest-v1.yaml'));
      const { problems } = await validateFleetRepo(new DirectorySource(broken));
      const text = problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n');
      assert.match(
        text,
        new RegExp(
          String.raw`manifests\/manifest-v1\.yaml:11: component type "rtos": no artifact named "rtos-v7" ` +
            String.raw`in artifacts of the fleet repo`,
        ),
      );
      assert.match(
        text,
        new RegExp(
          String.raw`manifests\/manifest-v1\.yaml:6: artifact "gateway-v1" is for device types modem, and` +
            String.raw` component type "gateway" is none of them`,
        ),
      );
    },
  );
});

describe(
  "Mender Orchestrator's current demo (kind: manifest + kind: topology), unchanged",
  { skip: skip ?? false },
  () => {
    const SUPPORT = join(projectRoot, 'test/fixtures/mender-orchestrator-support');
    // The demo's rtos-interface keeps its instances where the demo installs them on a device.
    const MOCK = '/data/mender-orchestrator/mock-instances';
    let root: string;
    let repo: string;
    let ifaces: string;
    let made: string[] = [];

    before(() => {
      root = tempDir('rollgate-mender-topology-');
      repo = join(root, 'fleet');
      ifaces = join(root, 'interfaces');
      mkdirSync(ifaces);
      copyFileSync(join(SUPPORT, 'mock-env/interfaces/v1/rtos-interface'), join(ifaces, 'rtos-interface'));
      chmodSync(join(ifaces, 'rtos-interface'), 0o755);
      // Stand-in for the gateway's rootfs-image interface (which needs a real Mender device): it
      // keeps the gateway's version in a file and reports it as rootfs-image.version.
      const gw = join(root, 'gateway');
      mkdirSync(gw);
      writeFileSync(join(gw, 'current'), 'gateway-v0\n');
      writeFileSync(
        join(ifaces, 'rootfs-image'),
        `#!/bin/sh\nG=${gw}\ncase "$1" in\n  Identity) echo id=G13 ;;\n  Provides) echo ` +
          `"rootfs-image.version=$(cat $G/current)" ;;\n  SupportsRollback) echo Yes ;;\n  NeedsArtifactReboot) ` +
          `echo No ;;\n  ArtifactInstall) cp $G/current $G/previous; cat "$2/header/artifact_name" > $G/current ` +
          `;;\n  ArtifactRollback) [ -f $G/previous ] && cp $G/previous $G/current ;;\nesac\nexit 0\n`,
      );
      chmodSync(join(ifaces, 'rootfs-image'), 0o755);
      // The instances' initial state, as the demo installs it (only where nothing is there already).
      for (const dir of ['/data', '/data/mender-orchestrator', MOCK]) {
        if (!existsSync(dir)) {
          mkdirSync(dir);
          made.push(dir);
        }
      }
      for (const id of ['1', '2']) {
        assert.ok(
          !existsSync(join(MOCK, id)) || made.includes(MOCK),
          `${MOCK}/${id} exists already and is not this test's`,
        );
        cpSync(join(SUPPORT, 'mock-env/mock-instances', id), join(MOCK, id), { recursive: true });
        made.push(join(MOCK, id));
      }
      mkdirSync(join(repo, 'artifacts'), { recursive: true });
      mkdirSync(join(repo, 'system'), { recursive: true });
      copyFileSync(join(SUPPORT, 'mock-env/topology.yaml'), join(repo, 'system/topology.yaml'));
      for (const f of ['manifest-v1.yaml', 'manifest-v2.mender', 'manifest-v3.yaml'])
        copyFileSync(join(SUPPORT, 'premade-artifacts', f), join(repo, 'system', f));
      for (const v of ['rtos-v1', 'rtos-v2', 'rtos-v3'])
        copyFileSync(join(SUPPORT, 'premade-artifacts', `${v}.mender`), join(repo, 'artifacts', `${v}.mender`));
      for (const v of ['gateway-v1', 'gateway-v2']) {
        const img = join(root, `${v}.ext4`);
        writeFileSync(img, `${v} root filesystem\n`);
        execFileSync(
          'mender-artifact',
          [
            'write',
            'rootfs-image',
            '--file',
            img,
            '--device-type',
            'gateway',
            '--artifact-name',
            v,
            '--output-path',
            join(repo, 'artifacts', `${v}.mender`),
          ],
          { stdio: 'ignore' },
        );
      }
    });
    after(() => {
      for (const dir of made.reverse()) rmSync(dir, { recursive: true, force: true });
      made = [];
      cleanup(root);
    });

    const fleet = (manifest: string) =>
      writeFileSync(
        join(repo, 'rollgate.yaml'),
        `apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  system-core:\n    manifest: system/${manifest}\n    ` +
          `topology: system/topology.yaml\ntargets:\n  - { name: all, match: { any: true }, system: system-core }\n`,
      );
    const args = () => [
      '--repo',
      repo,
      '--id',
      'gw-demo',
      '--state-dir',
      join(root, 'state'),
      '--interfaces-dir',
      ifaces,
    ];
    const rtos = (id: string) => /^version=(.*)$/m.exec(readFileSync(join(MOCK, id, 'Provides'), 'utf8'))?.[1];
    const gateway = () => readFileSync(join(root, 'gateway/current'), 'utf8').trim();

    // The demo's rtos-interface reads the version with jq 1.7 syntax (`.a.["b"]`); Debian 12 ships jq
    // 1.6, where that is a syntax error, so the interface commits an empty version.
    const jqVersion = execFileSync('jq', ['--version']).toString().trim();
    const jq17 = !/^jq-1\.[0-6]\b/.test(jqVersion);

    test(
      `end to end with ${jqVersion}: ` +
        (jq17
          ? 'v1, v2 from the manifest artifact, v3 with a failing RTOS rolled back'
          : 'the interface cannot read the version and commits an empty one, ' +
            'which rollgate rolls back instead of calling it applied'),
      async () => {
        if (!jq17) {
          fleet('manifest-v1.yaml');
          const r = await rollgate('apply', ...args());
          assert.equal(r.code, 3, r.err);
          assert.match(
            r.err,
            new RegExp(
              String.raw`interface "rtos-interface" \(component rtos#[12]\), state ArtifactCommit: commit` +
                String.raw`ted, but Provides then reports version "", not "rtos-v1": the update did not take`,
            ),
          );
          assert.deepEqual(
            [gateway(), rtos('1'), rtos('2')],
            ['gateway-v0', 'mock-env-rtos', 'mock-env-rtos'],
            'every component back where it was',
          );
          assert.equal(
            (await rollgate('diff', ...args(), '--against', 'live')).code,
            2,
            'and the update is still to do',
          );
          return;
        }
        fleet('manifest-v1.yaml');
        const v1 = await rollgate('apply', ...args());
        assert.equal(v1.code, 0, v1.err);
        assert.deepEqual([gateway(), rtos('1'), rtos('2')], ['gateway-v1', 'rtos-v1', 'rtos-v1']);
        assert.equal((await rollgate('diff', ...args(), '--against', 'live')).code, 0);

        fleet('manifest-v2.mender');
        const v2 = await rollgate('apply', ...args());
        assert.equal(v2.code, 0, v2.err);
        assert.deepEqual([gateway(), rtos('1'), rtos('2')], ['gateway-v2', 'rtos-v2', 'rtos-v2']);
        const live = await rollgate(
          'observe',
          '--state-dir',
          join(root, 'state'),
          '--interfaces-dir',
          ifaces,
          '--output',
          'json',
        );
        assert.deepEqual(
          (JSON.parse(live.out) as { components: { id?: string }[] }).components.map((c) => c.id).sort(),
          ['G13', 'R123', 'R456'],
          'ids answered by Identity',
        );
        assert.equal((await rollgate('diff', ...args(), '--against', 'live')).code, 0);

        fleet('manifest-v3.yaml');
        writeFileSync(join(MOCK, '2', 'ArtifactInstall.FAIL'), '');
        try {
          const v3 = await rollgate('apply', ...args());
          assert.equal(v3.code, 3, v3.err);
          assert.deepEqual(
            [gateway(), rtos('1'), rtos('2')],
            ['gateway-v2', 'rtos-v2', 'rtos-v2'],
            'everything back on v2',
          );
        } finally {
          rmSync(join(MOCK, '2', 'ArtifactInstall.FAIL'));
        }
        assert.equal((await rollgate('apply', ...args())).code, 0);
        assert.deepEqual([gateway(), rtos('1'), rtos('2')], ['gateway-v2', 'rtos-v3', 'rtos-v3']);
        assert.equal((await rollgate('diff', ...args(), '--against', 'live')).code, 0);
      },
    );
  },
);
