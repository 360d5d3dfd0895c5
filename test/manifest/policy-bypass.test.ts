// The walks around the gateway's policy that an outsider found (rollgate issue 21), and the
// variants of them we found attacking the fix: each one a real fleet repo on disk, loaded as the
// agent loads it (and through `rollgate validate --policy-file`, as the fleet repo's CI does),
// refused under a policy, naming the rule. The same repo loads without a policy: only the
// policy refuses it.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  DirectorySource,
  FleetRepoError,
  loadDesiredState,
  type GatewayPolicy,
  type LoadOptions,
  type Problem,
} from '../../src/manifest/index.js';
import { rollgate } from '../helpers/cli.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';

const device = { id: 'gw', labels: {} };
const STATE_DIR = '/var/lib/rollgate';

describe('policy bypasses: refused under a policy', () => {
  const root = tempDir('rollgate-bypass-');
  after(() => cleanup(root));
  let n = 0;

  /** A fleet repo with one app (compose.yaml), more files, and the target's variables and overrides. */
  function repo(
    compose: string,
    extra: { files?: Record<string, string>; target?: string; health?: string } = {},
  ): string {
    const dir = join(root, `r${n++}`);
    const files: Record<string, string> = {
      'app/compose.yaml': compose,
      ...(extra.health ? { 'health.yaml': extra.health } : {}),
      ...extra.files,
      'rollgate.yaml':
        'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  s:\n    apps:\n      app: app/compose.yaml\n' +
        (extra.health ? '    health: health.yaml\n' : '') +
        'targets:\n  - name: all\n    match: { any: true }\n    system: s\n' +
        (extra.target ?? ''),
    };
    for (const [p, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, p)), { recursive: true });
      writeFileSync(join(dir, p), text);
    }
    return dir;
  }

  /** Loads `dir` under `policy`; the problems, every one of which must be the policy's. */
  async function refused(dir: string, policy: GatewayPolicy, opts: LoadOptions = {}): Promise<Problem[]> {
    // Without a policy the same repo loads: the refusal below is the policy's alone.
    await loadDesiredState(new DirectorySource(dir), device, opts);
    const err = await loadDesiredState(new DirectorySource(dir), device, { ...opts, policy }).then(
      () => assert.fail(`loaded under ${JSON.stringify(policy)}`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof FleetRepoError, String(err));
    return err.problems;
  }
  const rules = (ps: Problem[]) => [...new Set(ps.map((p) => p.rule))].sort();
  const svc = (body: string, top = '') => `services:\n  web:\n    image: nginx:1\n${body}${top}`;
  /** A policy that says something, and nothing about the key under test. */
  const locked: GatewayPolicy = { allowPrivileged: false, allowHostNetwork: false };

  describe('the outsider’s findings', () => {
    test('a health command that is a file the repo shipped (under <state-dir>/files) is refused', async () => {
      const shipped = `${STATE_DIR}/files/app/0123abcd/check`;
      const health = (argv0: string) =>
        'apiVersion: rollgate/v1\nkind: Health\nchecks:\n' + `  - name: shipped\n    command: { argv: [${argv0}] }\n`;
      const dir = repo(svc('    volumes: ["./check:/check:ro"]\n'), {
        health: health(shipped),
        files: { 'app/check': '#!/bin/sh\nid > /tmp/owned\n' },
      });
      const err = await loadDesiredState(new DirectorySource(dir), device, {
        policy: { healthCommands: ['check'] },
        stateDir: STATE_DIR,
      } as LoadOptions).then(
        () => assert.fail('loaded'),
        (e: unknown) => e as FleetRepoError,
      );
      assert.match(
        err.message,
        /health\.yaml:\d+:\d+: command .*\/files\/app\/0123abcd\/check is in the state directory/,
      );
      // Matched by its base name, a copy anywhere else passed too: the rule names paths as written.
      const elsewhere = repo(svc(''), { health: health('/tmp/evil/curl') });
      const ps = await refused(elsewhere, { healthCommands: ['curl'] });
      assert.deepEqual(rules(ps), ['policy.healthCommands']);
      // A relative path or one through .. never runs, policy or not.
      for (const argv0 of ['./check', 'bin/check', '/usr/bin/../../var/lib/rollgate/files/x']) {
        const bad = await loadDesiredState(new DirectorySource(repo(svc(''), { health: health(argv0) })), device).then(
          () => assert.fail(`loaded with ${argv0}`),
          (e: unknown) => e as FleetRepoError,
        );
        assert.match(bad.message, /name an absolute path, or a program on the system PATH/);
      }
    });

    test('allowHostNetwork: false, and a network named host (external or not, by name:, by driver)', async () => {
      const join = (nets: string) => svc('    networks: [h]\n', `networks:\n  h:\n${nets}`);
      for (const nets of [
        '    external: true\n    name: host\n',
        '    name: host\n',
        '    external:\n      name: host\n',
        '    name: HOST\n', // the Engine's name for it is not HOST, but nothing named so is allowed either
        '    driver: host\n',
      ])
        assert.deepEqual(rules(await refused(repo(join(nets)), locked)), ['policy.allowHostNetwork'], nets);
      const byKey = repo(svc('    networks: [host]\n', 'networks:\n  host:\n    external: true\n'));
      assert.deepEqual(rules(await refused(byKey, locked)), ['policy.allowHostNetwork']);
      // The default network every service joins without saying so, renamed.
      const byDefault = repo(svc('', 'networks:\n  default:\n    name: host\n'));
      assert.deepEqual(rules(await refused(byDefault, locked)), ['policy.allowHostNetwork']);
      const macvlan = repo(join('    driver: macvlan\n    driver_opts: { parent: eth0 }\n'));
      assert.deepEqual(rules(await refused(macvlan, locked)), ['policy.allowNetworkOptions', 'policy.networkDrivers']);
      const ipvlan = repo(join('    driver: ipvlan\n'));
      assert.deepEqual(rules(await refused(ipvlan, { networkDrivers: ['macvlan'] })), ['policy.networkDrivers']);
    });

    test('bindPaths compared as strings: /srv/edge/../../etc passed; a volume binding / went unchecked', async () => {
      const policy = { bindPaths: ['/srv/edge'] };
      const traversal = repo(svc('    volumes: ["/srv/edge/../../etc:/host-etc"]\n'));
      const ps = await refused(traversal, policy);
      assert.deepEqual(rules(ps), ['policy.bindPaths']);
      assert.match(ps[0]!.message, /bind mount of "\/srv\/edge\/\.\.\/\.\.\/etc" goes through "\.\."/);
      const root = repo(
        svc(
          '    volumes: ["rootfs:/host"]\n',
          'volumes:\n  rootfs:\n    driver_opts: { type: none, o: bind, device: / }\n',
        ),
      );
      const vs = await refused(root, policy);
      assert.deepEqual(rules(vs), ['policy.bindPaths']);
      assert.match(vs[0]!.message, /volume "rootfs" binds \/ is not allowed \(allowed under: \/srv\/edge\)/);
    });

    test('devices compared as prefixes: /dev/serial/../mem passed; device_cgroup_rules passed any policy', async () => {
      const policy = { devices: ['/dev/serial'] };
      const mem = await refused(repo(svc('    devices: ["/dev/serial/../mem:/dev/ttyS0"]\n')), policy);
      assert.deepEqual(rules(mem), ['policy.devices']);
      const cgroup = await refused(repo(svc('    device_cgroup_rules: ["b *:* rwm"]\n')), policy);
      assert.deepEqual(rules(cgroup), ['policy.deviceCgroupRules']);
    });

    test('keys no rule covered: each refused under any policy, naming its rule', async () => {
      const cases: [string, string, string][] = [
        ['    volumes_from: ["container:portainer"]\n', '', 'policy.allowVolumesFrom'],
        // At the volume's definition: line 7, its external: true.
        ['    volumes: ["other:/data"]\n', 'volumes:\n  other:\n    external: true\n', 'policy.externalVolumes'],
        ['    pid: "container:0123456789ab"\n', '', 'policy.allowHostPid'],
        ['    security_opt: ["seccomp:unconfined"]\n', '', 'policy.securityOpt'],
        ['    security_opt: ["apparmor=unconfined"]\n', '', 'policy.securityOpt'],
        ['    security_opt: ["label:disable"]\n', '', 'policy.securityOpt'],
        ['    security_opt: ["no-new-privileges:false"]\n', '', 'policy.securityOpt'],
        ['    ipc: host\n', '', 'policy.allowHostIpc'],
        ['    ipc: "container:0123456789ab"\n', '', 'policy.allowHostIpc'],
        ['    uts: host\n', '', 'policy.allowHostUts'],
        ['    userns_mode: host\n', '', 'policy.allowHostUserns'],
        ['    cgroup_parent: system.slice\n', '', 'policy.allowCgroupParent'],
        ['    cgroup: host\n', '', 'policy.allowHostCgroup'],
        ['    sysctls: { kernel.core_pattern: "|/tmp/x" }\n', '', 'policy.sysctls'],
        ['    runtime: nvidia\n', '', 'policy.runtimes'],
      ];
      for (const [body, top, rule] of cases) {
        const ps = await refused(repo(svc(body, top)), locked);
        assert.deepEqual(rules(ps), [rule], body);
        assert.equal(ps[0]!.line, top ? 7 : 4, `${body} at its line`);
      }
    });
  });

  describe('variants: what an outsider tries next', () => {
    test('${VAR} interpolation producing host or ..: judged on the value the container gets', async () => {
      const hostNet = repo(svc('    network_mode: ${NM}\n'));
      assert.deepEqual(rules(await refused(hostNet, locked, { variables: { NM: 'host' } })), [
        'policy.allowHostNetwork',
      ]);
      const dots = repo(svc('    volumes: ["/srv/edge/${X}/etc:/e"]\n'), { files: { 'app/.env': 'X=../..\n' } });
      assert.deepEqual(rules(await refused(dots, { bindPaths: ['/srv/edge'] })), ['policy.bindPaths']);
      const named = repo(svc('    networks: [h]\n', 'networks:\n  h:\n    external: true\n    name: ${NET}\n'), {
        target: '    variables: { NET: host }\n',
      });
      assert.deepEqual(rules(await refused(named, locked)), ['policy.allowHostNetwork']);
    });

    test('YAML anchors and merge keys: the merged service is judged, at the service', async () => {
      const dir = repo(
        'x-common: &common\n  pid: host\n  privileged: true\n  volumes: ["//etc/:/e"]\n' +
          'services:\n  web:\n    <<: *common\n    image: nginx:1\n',
      );
      const ps = await refused(dir, { bindPaths: ['/srv'] });
      assert.deepEqual(rules(ps), ['policy.allowHostPid', 'policy.allowPrivileged', 'policy.bindPaths']);
      // The merged keys are not written under the service: each is reported where the merge is.
      assert.ok(
        ps.every((p) => p.line === 7),
        'each at the service, where the merge brought it',
      );
    });

    test('long syntax, trailing slashes, // and /./: the same path, the same answer', async () => {
      const policy = { bindPaths: ['/srv/edge'] };
      for (const src of ['/srv/edge/../../etc', '/etc/', '//etc', '/srv/./edge/../../etc', '/srv/edgefoo'])
        assert.deepEqual(
          rules(
            await refused(repo(svc(`    volumes:\n      - { type: bind, source: "${src}", target: /e }\n`)), policy),
          ),
          ['policy.bindPaths'],
          src,
        );
      const ok = repo(svc('    volumes:\n      - { type: bind, source: "/srv//edge/./data/", target: /d }\n'));
      await loadDesiredState(new DirectorySource(ok), device, { policy });
    });

    test('type: volume with driver options, and a secret or config that is a host file', async () => {
      const vol = repo(
        svc(
          '    volumes:\n      - { type: volume, source: v, target: /v }\n',
          'volumes:\n  v:\n    driver_opts: { o: "ro,rbind", device: /srv/edge/../../root }\n',
        ),
      );
      assert.deepEqual(rules(await refused(vol, { bindPaths: ['/srv/edge'] })), ['policy.bindPaths']);
      const disk = repo(
        svc('    volumes: ["v:/v"]\n', 'volumes:\n  v:\n    driver_opts: { type: ext4, device: /dev/sda1 }\n'),
      );
      assert.deepEqual(rules(await refused(disk, locked)), ['policy.allowVolumeDriverOpts']);
      const secret = repo(svc('    secrets: [s]\n', 'secrets:\n  s:\n    file: /etc/shadow\n'));
      assert.deepEqual(rules(await refused(secret, locked)), ['policy.bindPaths']);
      const config = repo(svc('    configs: [c]\n', 'configs:\n  c:\n    file: /root/.ssh/id_ed25519\n'));
      assert.deepEqual(rules(await refused(config, { bindPaths: ['/srv'] })), ['policy.bindPaths']);
    });

    test('pid, ipc and network_mode joining another container or service; ipc: shareable is fine', async () => {
      const chain = repo(
        'services:\n  a:\n    image: nginx:1\n    network_mode: host\n  b:\n    image: nginx:1\n' +
          '    network_mode: "service:a"\n',
      );
      const err = await loadDesiredState(new DirectorySource(chain), device, { policy: locked }).then(
        () => assert.fail('loaded'),
        (e: unknown) => e as FleetRepoError,
      );
      assert.ok(err.problems.some((p) => p.rule === 'policy.allowHostNetwork' && /service "a"/.test(p.message)));
      const shareable = repo(svc('    ipc: shareable\n'));
      await loadDesiredState(new DirectorySource(shareable), device, { policy: locked });
    });

    test('an image the fleet target overrides is held to policy.registries too', async () => {
      const dir = repo(svc(''), {
        target:
          '    overrides:\n      apps:\n        app:\n          services:\n            web:\n' +
          '              image: evil.example.com/root:1\n',
      });
      const ps = await refused(dir, { registries: ['docker.io'] });
      assert.deepEqual(rules(ps), ['policy.registries']);
      assert.equal(ps[0]!.file, 'rollgate.yaml', 'at the override that named it');
    });

    test('a log driver that opens a host socket as root, a fixed host port, a MAC address', async () => {
      const syslog = repo(
        svc('    logging:\n      driver: syslog\n      options: { syslog-address: "unix:///var/run/docker.sock" }\n'),
      );
      assert.deepEqual(rules(await refused(syslog, locked)), ['policy.logDrivers']);
      const ssh = repo(svc('    ports: ["22:22"]\n'));
      assert.deepEqual(rules(await refused(ssh, { hostPorts: ['8000-8099'] })), ['policy.hostPorts']);
      await loadDesiredState(new DirectorySource(repo(svc('    ports: ["8080:80", "80"]\n'))), device, {
        policy: { hostPorts: ['8000-8099'] },
      });
      const mac = repo(svc('    networks:\n      default:\n        mac_address: "02:42:ac:11:00:02"\n'));
      assert.deepEqual(rules(await refused(mac, locked)), ['policy.allowNetworkOptions']);
    });

    test('rollgate validate --policy-file refuses them in the fleet repo CI, each at its file:line', async () => {
      const dir = repo(
        svc(
          '    networks: [h]\n    volumes: ["rootfs:/host"]\n    security_opt: ["seccomp:unconfined"]\n',
          'networks:\n  h:\n    external: true\n    name: host\nvolumes:\n  rootfs:\n' +
            '    driver_opts: { type: none, o: bind, device: / }\n',
        ),
      );
      const policyFile = join(root, 'gateway.yaml');
      writeFileSync(policyFile, 'repo: { url: x }\npolicy:\n  allowHostNetwork: false\n  bindPaths: [/srv/edge]\n');
      const r = await rollgate('validate', '--repo', dir, '--policy-file', policyFile);
      assert.equal(r.code, 1, r.out + r.err);
      for (const rule of ['allowHostNetwork', 'bindPaths', 'securityOpt'])
        assert.match(r.err, new RegExp(`app/compose\\.yaml:\\d+:\\d+: forbidden by this gateway's policy\\.${rule}`));
      writeFileSync(policyFile, 'policy: {}\n');
      const empty = await rollgate('validate', '--repo', repo(svc('    uts: host\n')), '--policy-file', policyFile);
      assert.equal(empty.code, 1, 'an empty policy allows nothing that reaches the host');
      assert.match(empty.err, /policy\.allowHostUts/);
    });
  });

  describe('attacking the hardened policy: what still got through (issue 21, second round)', () => {
    /** Loads `dir` (no policy needed: these are wrong for any gateway); the problems. */
    async function invalid(dir: string, opts: LoadOptions = {}): Promise<Problem[]> {
      const err = await loadDesiredState(new DirectorySource(dir), device, opts).then(
        () => assert.fail('loaded'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof FleetRepoError, String(err));
      return err.problems;
    }
    const two = (thief: string, db = '  db:\n    image: nginx:1\n') =>
      `services:\n${db}  thief:\n    image: nginx:1\n    network_mode: none\n${thief}`;

    test('volumes_from a service the file does not define (another instance’s app of that name has it)', async () => {
      // The applier looked the service up by app and service labels alone: another state
      // directory's "db" of an app of the same name answered, and its volumes were mounted.
      const ps = await invalid(repo(two('    volumes_from: [db]\n', '')), { policy: locked });
      assert.equal(ps.length, 1);
      assert.match(ps[0]!.message, /volumes_from: service "db" is not a service of this file/);
      assert.equal(ps[0]!.line, 5);
      for (const [from, why] of [
        ['"service:db"', /expected "service", "service:ro", "container:name" or "container:name:ro"/],
        ['"db:rw,z"', /expected "service"/],
        ['"Container:portainer"', /expected "service"/],
        ['thief', /service "thief" takes volumes from itself/],
      ] as const) {
        const bad = await invalid(repo(two(`    volumes_from: [${from}]\n`)));
        assert.match(bad[0]!.message, why, from);
      }
      await loadDesiredState(new DirectorySource(repo(two('    volumes_from: ["db:ro"]\n'))), device, {
        policy: locked,
      });
    });

    test('pid, ipc, uts, userns_mode, cgroup: a value the Engine does not take is refused when it loads', async () => {
      // pid: "service:db" reached the Engine as it was written and failed the create, half-way in.
      for (const body of [
        '    pid: "service:db"\n',
        '    ipc: "service:db"\n',
        '    pid: HOST\n',
        '    ipc: "container:"\n',
        '    uts: private\n',
        '    userns_mode: "keep-id"\n',
        '    cgroup: "container:x"\n',
      ]) {
        const ps = await invalid(repo(svc(body)));
        assert.match(ps[0]!.message, /is not supported \(expected /, body);
      }
      const ps = await invalid(repo(svc('    ipc: "service:db"\n')));
      assert.match(ps[0]!.message, /a service's container, and with it its namespace, changes with every update/);
      for (const body of ['    ipc: "container:broker"\n', '    cgroup: private\n', '    ipc: shareable\n'])
        await loadDesiredState(new DirectorySource(repo(svc(body))), device);
    });

    test('io.rollgate.* labels on a network or a volume (the owner, app and config-hash labels)', async () => {
      for (const top of [
        'networks:\n  default:\n    labels: { io.rollgate.owner: 0f8c2d5e-0000-4000-8000-000000000000 }\n',
        'networks:\n  default:\n    labels: ["io.rollgate.config-hash=abc"]\n',
        'volumes:\n  data:\n    labels: { io.rollgate.app: other }\n',
      ]) {
        const ps = await invalid(
          repo(svc('    volumes: ["data:/data"]\n', `${top.startsWith('v') ? '' : 'volumes:\n  data:\n'}${top}`)),
        );
        assert.equal(ps.length, 1, top);
        assert.match(ps[0]!.message, /label "io\.rollgate\.[a-z-]+" is reserved for rollgate's own bookkeeping/);
      }
    });

    test('a config or secret named as a path: written, and mounted from, outside the files directory', async () => {
      // The name is the file's name under <state-dir>/files/<app>/<hash>/: "../../../../etc/cron.d/x" was
      // written there, as root, before anything ran.
      const escape = '"../../../../../../../../../etc/cron.d/rollgate"';
      for (const [body, top] of [
        ['    configs: [c]\n', `configs:\n  c:\n    content: x\n  ${escape}:\n    content: "* * * * * root id\\n"\n`],
        [`    configs: [${escape}]\n`, `configs:\n  ${escape}:\n    content: x\n`],
        [`    secrets: [${escape}]\n`, `secrets:\n  ${escape}:\n    environment: TOKEN\n`],
        ['    configs: [".."]\n', 'configs:\n  "..":\n    content: x\n'],
      ]) {
        const ps = await invalid(repo(svc(body!, top)), { variables: { TOKEN: 't' } });
        assert.match(ps[0]!.message, /(config|secret) name ".*" is not allowed: use letters, digits/, top);
        assert.equal(ps.length, 1, `one problem, at the definition: ${JSON.stringify(ps)}`);
      }
    });

    test('a NUL in a host path: refused when it loads, not first when the apply resolves it', async () => {
      // "/srv/edge/x\0" is under /srv/edge as a string, and "/dev/ttyUSB0\0" starts with /dev/ttyUSB:
      // both passed the load, and the gateway learnt of them only half-way into the apply.
      const policy = { bindPaths: ['/srv/edge'], devices: ['/dev/ttyUSB'] };
      const bind = await invalid(repo(svc('    volumes: ["/srv/edge/x\\u0000y:/x"]\n')), { policy });
      assert.match(bind[0]!.message, /bind mount source ".*" contains a NUL character/);
      const device = await invalid(repo(svc('    devices: ["/dev/ttyUSB0\\u0000:/dev/x"]\n')), { policy });
      assert.match(device[0]!.message, /devices: ".*" contains a NUL character/);
      const secret = await refused(
        repo(svc('    secrets: [s]\n', 'secrets:\n  s:\n    file: "/srv/edge/s\\u0000"\n')),
        policy,
      );
      assert.deepEqual(rules(secret), ['policy.bindPaths']);
      assert.match(secret[0]!.message, /contains a NUL character/);
    });

    test('rollgate validate: the state directory comes from --state-dir or the agent’s configuration', async () => {
      // validate had no --state-dir: a health command under the gateway's own state directory
      // (where the repo's files are written) passed the fleet repo's CI, and the gateway refused it.
      const stateDir = join(root, 'gw-state');
      const health =
        'apiVersion: rollgate/v1\nkind: Health\nchecks:\n' +
        `  - name: c\n    command: { argv: [${stateDir}/files/app/0123/check] }\n`;
      const dir = repo(svc(''), { health });
      const config = join(root, 'gw-config.yaml');
      writeFileSync(config, `stateDir: ${stateDir}\npolicy:\n  healthCommands: [${stateDir}/files/app/0123/check]\n`);
      const fromConfig = await rollgate('validate', '--repo', dir, '--policy-file', config);
      assert.equal(fromConfig.code, 1, fromConfig.out + fromConfig.err);
      assert.match(
        fromConfig.err,
        /health\.yaml:\d+:\d+: command .*\/gw-state\/files\/app\/0123\/check is in the state directory/,
      );
      const byFlag = await rollgate('validate', '--repo', dir, '--state-dir', stateDir);
      assert.equal(byFlag.code, 1, byFlag.out + byFlag.err);
      assert.match(byFlag.err, /is in the state directory/);
      const elsewhere = await rollgate('validate', '--repo', dir, '--state-dir', join(root, 'other-state'));
      assert.equal(elsewhere.code, 0, elsewhere.out + elsewhere.err);
    });
  });
});
