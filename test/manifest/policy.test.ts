// The gateway's policy, checked while a commit loads: a real Compose file (Home Assistant's
// stack, unchanged) under a locked-down policy is refused with one problem per breach, each at
// the file:line that asked for it and naming the rule; with no policy it loads as before. Under
// any policy, what reaches the host is refused unless a rule allows it (deny by default).

import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  DirectorySource,
  FleetRepoError,
  loadDesiredState,
  registryOf,
  type GatewayPolicy,
  type Problem,
} from '../../src/manifest/index.js';
import { rollgate } from '../helpers/cli.js';
import { ExampleCopy } from '../helpers/example-copy.js';
import { cleanup, projectRoot, tempDir } from '../helpers/fixtures.js';

const HA = join(projectRoot, 'test/fixtures/compose-real/home-assistant');
const device = { id: 'gw', labels: {} };

describe('gateway policy', () => {
  const root = tempDir('rollgate-policy-');
  after(() => cleanup(root));

  const repo = join(root, 'ha');
  cpSync(HA, join(repo, 'app'), { recursive: true });
  writeFileSync(
    join(repo, 'rollgate.yaml'),
    'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  s:\n    apps:\n      ha: app/docker-compose.yml\n' +
      'targets:\n  - name: all\n    match: { any: true }\n    system: s\n',
  );
  const compose = readFileSync(join(HA, 'docker-compose.yml'), 'utf8').split('\n');
  /** The 1-based line of the n-th line containing `text`. */
  const lineOf = (text: string, n = 1) => compose.map((l, i) => (l.includes(text) ? i + 1 : 0)).filter(Boolean)[n - 1];

  const refused = async (policy: GatewayPolicy): Promise<Problem[]> => {
    const err = await loadDesiredState(new DirectorySource(repo), device, { policy }).then(
      () => assert.fail('loaded'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof FleetRepoError, String(err));
    assert.equal(err.forbidden, true, 'every problem is a policy breach');
    return err.problems;
  };

  test('with no policy, the real file loads (the default stays permissive)', async () => {
    const d = await loadDesiredState(new DirectorySource(repo), device);
    assert.equal(d.apps[0]?.services.length, 6);
  });

  // Changed deliberately with deny-by-default: this policy names no host ports, so the five
  // services that publish fixed host ports are refused too (before, unset meant any port).
  test('locked down: every breach is a problem at its file:line, naming the rule', async () => {
    const ps = await refused({
      allowPrivileged: false,
      allowHostNetwork: false,
      devices: [],
      registries: ['ghcr.io', 'docker.io'],
    });
    const at = (rule: string) => ps.filter((p) => p.rule === rule).map((p) => p.line);
    assert.deepEqual(at('policy.allowPrivileged'), [lineOf('privileged: true')]);
    assert.deepEqual(at('policy.allowHostNetwork').sort(), [
      lineOf('network_mode: host'),
      lineOf('network_mode: host', 2),
    ]);
    assert.deepEqual(at('policy.devices'), [lineOf('/dev/ttyUSB0')]);
    assert.deepEqual(at('policy.registries'), [lineOf('image: lscr.io')]);
    // 80 (heimdall), 1883 and 9001 (mosquitto), 1880 (nodered), 8080 (zigbee2mqtt), each at its line.
    assert.deepEqual(
      at('policy.hostPorts'),
      ['80:80', '"1883:1883"', '"9001:9001"', '"1880:1880"', '"8080:8080"'].map((p) => lineOf(p)),
    );
    assert.equal(ps.length, 10);
    for (const p of ps) {
      assert.equal(p.file, 'app/docker-compose.yml');
      assert.match(p.message, /^forbidden by this gateway's policy\.\w+: service "[\w-]+": /);
    }
    assert.match(
      ps.find((p) => p.rule === 'policy.registries')!.message,
      /lscr\.io.*pulls only from ghcr\.io, docker\.io/,
    );
  });

  test('allow-lists: a device under an allowed prefix passes; relative binds are data directories', async () => {
    const ps = await refused({ devices: ['/dev/ttyUSB'], bindPaths: ['/srv'], digestsOnly: true, hostPorts: [80] });
    assert.equal(ps.filter((p) => p.rule === 'policy.hostPorts').length, 4, 'port 80 is allowed, the other four not');
    assert.equal(ps.filter((p) => p.rule === 'policy.devices').length, 0);
    // Every image of the stack is a tag, not a digest.
    assert.equal(ps.filter((p) => p.rule === 'policy.digestsOnly').length, 6);
    // Its binds are relative paths of the repo: data directories in the state directory, always allowed.
    assert.equal(ps.filter((p) => p.rule === 'policy.bindPaths').length, 0);
  });

  test('bind paths: a real exporter stack mounting / and /sys is refused outside /var/lib/docker', async () => {
    const dir = join(root, 'exporters');
    const src = join(projectRoot, 'test/fixtures/compose-real/dockprom-exporters');
    cpSync(src, join(dir, 'app'), { recursive: true });
    writeFileSync(
      join(dir, 'rollgate.yaml'),
      'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  s:\n    apps:\n      mon: app/docker-compose.exporters.yml\n' +
        'targets:\n  - name: all\n    match: { any: true }\n    system: s\n',
    );
    const err = await loadDesiredState(new DirectorySource(dir), device, {
      policy: { bindPaths: ['/var/lib/docker', '/proc'] },
    }).then(
      () => assert.fail('loaded'),
      (e: unknown) => e as FleetRepoError,
    );
    const text = readFileSync(join(src, 'docker-compose.exporters.yml'), 'utf8').split('\n');
    // Deny by default: the stack's host network, privileged container and /dev/kmsg are refused too.
    assert.deepEqual([...new Set(err.problems.map((p) => p.rule))].sort(), [
      'policy.allowHostNetwork',
      'policy.allowPrivileged',
      'policy.bindPaths',
      'policy.devices',
    ]);
    const binds = err.problems.filter((p) => p.rule === 'policy.bindPaths');
    const refusedSources = binds.map((p) => /bind mount of (\S+) /.exec(p.message)?.[1]).sort();
    // /proc and /var/lib/docker/ are allowed; /, /sys, /var/run and /cgroup are not (twice / and /sys).
    assert.deepEqual(refusedSources, ['/', '/', '/cgroup', '/sys', '/sys', '/var/run']);
    for (const p of binds) {
      assert.equal(p.rule, 'policy.bindPaths');
      const src = /bind mount of (\S+) /.exec(p.message)![1]!;
      assert.ok(text[p.line! - 1]!.includes(`${src}:`), `line ${p.line} is the mount of ${src}: ${text[p.line! - 1]}`);
    }
  });

  test('health command checks and interfaces: forbidden at the health file and the manifest', async () => {
    const ex = new ExampleCopy();
    try {
      ex.write(
        'systems/gateway/health.yaml',
        ex.read('systems/gateway/health.yaml') + '  - name: uptime\n    command: { argv: [/bin/sh, -c, "uptime"] }\n',
      );
      const err = await loadDesiredState(
        new DirectorySource(ex.dir),
        { id: 'gw-0001', labels: { role: 'gateway' } },
        {
          // The example's api publishes 127.0.0.1:18080, a fixed host port: allowed here, to reach the health file.
          policy: { healthCommands: ['curl'], interfaces: ['gateway-rootfs'], hostPorts: ['18080'] },
        },
      ).then(
        () => assert.fail('loaded'),
        (e: unknown) => e as FleetRepoError,
      );
      const rules = err.problems.map((p) => `${p.file} ${p.rule}`).sort();
      // The example's three components also pass arguments (their device directories), which
      // policy.interfaceArgs does not name.
      assert.deepEqual(rules, [
        'systems/gateway/health.yaml policy.healthCommands',
        'systems/gateway/manifest.yaml policy.interfaceArgs',
        'systems/gateway/manifest.yaml policy.interfaceArgs',
        'systems/gateway/manifest.yaml policy.interfaceArgs',
        'systems/gateway/manifest.yaml policy.interfaces',
      ]);
      assert.match(err.message, /command \/bin\/sh is not allowed \(policy\.healthCommands: curl\)/);
      assert.match(err.message, /interface rtos is not allowed/);
    } finally {
      cleanup(ex.dir);
    }
  });

  test('rollgate validate --policy-file: the fleet repo CI checks what a gateway allows', async () => {
    const policyFile = join(root, 'config.yaml');
    writeFileSync(policyFile, 'repo: { url: x }\npolicy:\n  allowPrivileged: false\n');
    const r = await rollgate('validate', '--repo', repo, '--policy-file', policyFile);
    assert.equal(r.code, 1);
    assert.match(
      r.out + r.err,
      /app\/docker-compose\.yml:\d+:\d+: forbidden by this gateway's policy\.allowPrivileged/,
    );
    writeFileSync(policyFile, 'policy:\n  allowPrivileged: nope\n');
    const bad = await rollgate('validate', '--repo', repo, '--policy-file', policyFile);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /config\.yaml: not a gateway policy: \/allowPrivileged must be boolean/);
  });

  test('hooks: a privileged post_start is refused with privileged containers; a bad hook is a problem', async () => {
    const dir = join(root, 'hooks');
    const compose = (hook: string) =>
      'services:\n  web:\n    image: nginx:1\n    post_start:\n' + hook + '    pre_stop:\n      - command: ["true"]\n';
    const write = (hook: string) => {
      mkdirSync(join(dir, 'app'), { recursive: true });
      writeFileSync(join(dir, 'app', 'compose.yaml'), compose(hook));
      writeFileSync(
        join(dir, 'rollgate.yaml'),
        'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  s:\n    apps:\n      web: app/compose.yaml\n' +
          'targets:\n  - name: all\n    match: { any: true }\n    system: s\n',
      );
    };
    write('      - command: ["sh", "-c", "mount -o remount,rw /"]\n        privileged: true\n');
    const loaded = await loadDesiredState(new DirectorySource(dir), device);
    assert.deepEqual(loaded.apps[0]?.services[0]?.config.postStart, [
      { command: ['sh', '-c', 'mount -o remount,rw /'], privileged: true },
    ]);
    const ps = await loadDesiredState(new DirectorySource(dir), device, { policy: { allowPrivileged: false } }).then(
      () => assert.fail('loaded'),
      (e: unknown) => (e as FleetRepoError).problems,
    );
    assert.deepEqual(
      ps.map((p) => [p.rule, p.line]),
      [['policy.allowPrivileged', 5]],
    );
    write('      - cmd: ["true"]\n');
    const bad = await loadDesiredState(new DirectorySource(dir), device).then(
      () => assert.fail('loaded'),
      (e: unknown) => (e as FleetRepoError).problems.map((p) => p.message).join(' | '),
    );
    assert.match(bad, /post_start: unsupported key "cmd"/);
    assert.match(bad, /command: expected a command string or a list of arguments/);
  });

  test('state scripts: loaded with the executable bit; refused under policy.stateScripts off', async () => {
    const ex = new ExampleCopy();
    try {
      ex.write('systems/gateway/state-scripts/ArtifactInstall_Enter_00_stop-logger', '#!/bin/sh\nexit 0\n');
      chmodSync(ex.path('systems/gateway/state-scripts/ArtifactInstall_Enter_00_stop-logger'), 0o755);
      ex.edit('rollgate.yaml', /(\n {4}manifest: [^\n]+\n)/, '$1    state_scripts: systems/gateway/state-scripts\n');
      const id = { id: 'gw-0001', labels: { role: 'gateway' } };
      const d = await loadDesiredState(new DirectorySource(ex.dir), id);
      assert.deepEqual(
        d.stateScripts?.map((s) => [s.name, s.state, s.action]),
        [['ArtifactInstall_Enter_00_stop-logger', 'ArtifactInstall', 'Enter']],
      );
      const err = await loadDesiredState(new DirectorySource(ex.dir), id, { policy: { stateScripts: false } }).then(
        () => assert.fail('loaded'),
        (e: unknown) => e as FleetRepoError,
      );
      assert.equal(err.forbidden, true);
      assert.match(err.message, /rollgate\.yaml:\d+:\d+: forbidden by this gateway's policy\.stateScripts/);
    } finally {
      cleanup(ex.dir);
    }
  });

  test('registries as Docker resolves them', () => {
    const rows: [string, string][] = [
      ['nginx', 'docker.io'],
      ['library/nginx:1', 'docker.io'],
      ['grafana/grafana', 'docker.io'],
      ['ghcr.io/home-assistant/home-assistant:stable', 'ghcr.io'],
      ['127.0.0.1:5000/app@sha256:' + 'a'.repeat(64), '127.0.0.1:5000'],
      ['localhost/x', 'localhost'],
    ];
    for (const [image, registry] of rows) assert.equal(registryOf(image), registry, image);
  });
});
