// The gateway policy's one table, walked row by row: for every Compose key that reaches the host
// (HOST_KEYS), uses that the rule allows and uses it refuses, with the normalisation and
// traversal variants an outsider would try. And the table is complete: every key of the Compose
// specification and of the loader's key tables is in it, or in HARMLESS_KEYS with a reason, or
// refused by the loader — so the next Compose key cannot slip past unnoticed.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  HARMLESS_KEYS,
  HOST_KEYS,
  type GatewayPolicy,
  type HostKey,
  type PolicyRule,
} from '../../src/manifest/index.js';
import { NETWORK_KEYS, SERVICE_KEYS, VOLUME_KEYS } from '../../src/manifest/compose/keys.js';
import type { DesiredNetwork, DesiredVolume, ServiceConfig, VolumeMount } from '../../src/model/index.js';
import { projectRoot } from '../helpers/fixtures.js';

const baseService = (): ServiceConfig => ({
  image: 'example/svc:1',
  environment: {},
  ports: [],
  volumes: [],
  networks: ['default'],
  restart: 'no',
  labels: {},
  dependsOn: {},
  devices: [],
  privileged: false,
  capAdd: [],
  capDrop: [],
  init: false,
  readOnly: false,
  tmpfs: [],
  extraHosts: [],
});

interface ServiceCase {
  config?: Partial<ServiceConfig>;
  /** Where each mount was written (default: under volumes). */
  mountKey?: 'volumes' | 'configs' | 'secrets';
  networkNames?: Record<string, string>;
  policy: GatewayPolicy;
  /** The rule a refusal names, when not the row's own. */
  rule?: PolicyRule;
}
interface NetworkCase {
  def?: Partial<DesiredNetwork>;
  engineName?: string;
  policy: GatewayPolicy;
  rule?: PolicyRule;
}
interface VolumeCase {
  def?: Partial<DesiredVolume>;
  engineName?: string;
  unmanaged?: boolean;
  policy: GatewayPolicy;
  rule?: PolicyRule;
}
type Cases<C> = { allowed: C[]; refused: C[] };

const bind = (source: string): VolumeMount => ({ type: 'bind', source, target: '/x', readOnly: false });
const hook = (privileged: boolean) => [{ command: ['true'], ...(privileged ? { privileged } : {}) }];

const SERVICE_CASES: Record<string, Cases<ServiceCase>> = {
  privileged: {
    allowed: [{ config: { privileged: true }, policy: { allowPrivileged: true } }, { policy: {} }],
    refused: [{ config: { privileged: true }, policy: {} }],
  },
  post_start: {
    allowed: [
      { config: { postStart: hook(false) }, policy: {} },
      { config: { postStart: hook(true) }, policy: { allowPrivileged: true } },
    ],
    refused: [{ config: { postStart: hook(true) }, policy: {} }],
  },
  pre_stop: {
    allowed: [
      { config: { preStop: hook(false) }, policy: {} },
      { config: { preStop: hook(true) }, policy: { allowPrivileged: true } },
    ],
    refused: [{ config: { preStop: hook(true) }, policy: { allowPrivileged: false } }],
  },
  cap_add: {
    allowed: [
      { config: { capAdd: ['cap_net_admin'] }, policy: { capabilities: ['NET_ADMIN'] } },
      { config: { capAdd: ['ALL'] }, policy: { capabilities: ['all'] } },
    ],
    refused: [
      { config: { capAdd: ['NET_ADMIN'] }, policy: {} },
      { config: { capAdd: ['SYS_ADMIN'] }, policy: { capabilities: ['NET_ADMIN'] } },
      { config: { capAdd: ['ALL'] }, policy: { capabilities: ['NET_ADMIN'] } },
    ],
  },
  devices: {
    allowed: [
      { config: { devices: ['/dev/ttyUSB0:/dev/ttyS0:rw'] }, policy: { devices: ['/dev/ttyUSB'] } },
      { config: { devices: ['/dev/./ttyUSB1'] }, policy: { devices: ['/dev/ttyUSB'] } },
      { config: { devices: ['/dev/serial/by-id/usb-x'] }, policy: { devices: ['/dev/serial/'] } },
      { config: { devices: ['//dev//ttyUSB0/'] }, policy: { devices: ['/dev/ttyUSB0'] } },
    ],
    refused: [
      { config: { devices: ['/dev/ttyUSB0'] }, policy: {} },
      { config: { devices: ['/dev/serial/../mem'] }, policy: { devices: ['/dev/serial'] } },
      { config: { devices: ['/dev/ttyUSB0/../../dev/mem'] }, policy: { devices: ['/dev/ttyUSB'] } },
      { config: { devices: ['/dev/serialx'] }, policy: { devices: ['/dev/serial/'] } },
      { config: { devices: ['//dev/mem'] }, policy: { devices: ['/dev/tty'] } },
      { config: { devices: ['/dev'] }, policy: { devices: ['/dev/ttyUSB'] } },
      { config: { devices: ['dev/ttyUSB0'] }, policy: { devices: ['/dev'] } },
    ],
  },
  device_cgroup_rules: {
    allowed: [{ config: { deviceCgroupRules: ['c  188:*   rwm'] }, policy: { deviceCgroupRules: ['c 188:* rwm'] } }],
    refused: [
      { config: { deviceCgroupRules: ['b *:* rwm'] }, policy: {} },
      { config: { deviceCgroupRules: ['b *:* rwm'] }, policy: { deviceCgroupRules: ['c 188:* rwm'] } },
    ],
  },
  volumes: {
    allowed: [
      { config: { volumes: [bind('/srv/edge/data')] }, policy: { bindPaths: ['/srv/edge/'] } },
      { config: { volumes: [bind('/srv//edge/./data/')] }, policy: { bindPaths: ['/srv/edge'] } },
      { config: { volumes: [bind('/srv/edge')] }, policy: { bindPaths: ['/srv/edge'] } },
      {
        config: {
          volumes: [
            { type: 'bind', repo: { hash: 'h' }, target: '/cfg', readOnly: true },
            { type: 'bind', data: 'app/data', target: '/data', readOnly: false },
            { type: 'volume', source: 'data', target: '/v', readOnly: false },
            { type: 'tmpfs', target: '/t', readOnly: false },
          ],
        },
        policy: {},
      },
    ],
    refused: [
      { config: { volumes: [bind('/etc')] }, policy: {} },
      { config: { volumes: [bind('/srv/edge/../../etc')] }, policy: { bindPaths: ['/srv/edge'] } },
      { config: { volumes: [bind('/srv/edgefoo')] }, policy: { bindPaths: ['/srv/edge'] } },
      { config: { volumes: [bind('//etc')] }, policy: { bindPaths: ['/srv'] } },
      { config: { volumes: [bind('~/.ssh')] }, policy: { bindPaths: ['/root'] } },
      { config: { volumes: [bind('/')] }, policy: { bindPaths: ['/srv'] } },
    ],
  },
  configs: {
    allowed: [
      { config: { volumes: [bind('/etc/edge/app.conf')] }, mountKey: 'configs', policy: { bindPaths: ['/etc/edge'] } },
      { config: { volumes: [bind('/etc/shadow')] }, mountKey: 'volumes', policy: {} }, // not this row's
    ],
    refused: [{ config: { volumes: [bind('/etc/shadow')] }, mountKey: 'configs', policy: {} }],
  },
  secrets: {
    allowed: [
      { config: { volumes: [bind('/etc/edge/token')] }, mountKey: 'secrets', policy: { bindPaths: ['/etc/edge'] } },
    ],
    refused: [
      { config: { volumes: [bind('/etc/edge/../shadow')] }, mountKey: 'secrets', policy: { bindPaths: ['/etc/edge'] } },
    ],
  },
  volumes_from: {
    allowed: [
      { config: { volumesFrom: ['other', 'other:ro'] }, policy: {} },
      { config: { volumesFrom: ['container:abc'] }, policy: { allowVolumesFrom: true } },
    ],
    refused: [{ config: { volumesFrom: ['container:abc'] }, policy: {} }],
  },
  network_mode: {
    allowed: [
      { config: { networkMode: 'bridge' }, policy: {} },
      { config: { networkMode: 'none' }, policy: {} },
      { config: { networkMode: 'host' }, policy: { allowHostNetwork: true } },
    ],
    refused: [
      { config: { networkMode: 'host' }, policy: {} },
      { config: { networkMode: 'HOST' }, policy: {} },
      { config: { networkMode: 'container:abc' }, policy: {} },
      { config: { networkMode: 'service:x' }, policy: {} },
    ],
  },
  networks: {
    allowed: [
      { config: { networks: ['lan'] }, networkNames: { lan: 'edge_lan' }, policy: {} },
      { config: { networks: ['lan'] }, networkNames: { lan: 'host' }, policy: { allowHostNetwork: true } },
      {
        config: { networks: ['lan'], networkEndpoints: { lan: { macAddress: '02:42:ac:11:00:02' } } },
        networkNames: { lan: 'edge_lan' },
        policy: { allowNetworkOptions: true },
      },
    ],
    refused: [
      { config: { networks: ['lan'] }, networkNames: { lan: 'host' }, policy: {} },
      { config: { networks: ['lan'] }, networkNames: { lan: ' HOST ' }, policy: {} },
      {
        config: { networks: ['lan'], networkEndpoints: { lan: { macAddress: '02:42:ac:11:00:02' } } },
        networkNames: { lan: 'edge_lan' },
        policy: {},
        rule: 'policy.allowNetworkOptions',
      },
    ],
  },
  mac_address: {
    allowed: [{ config: { macAddress: '02:42:ac:11:00:02' }, policy: { allowNetworkOptions: true } }],
    refused: [{ config: { macAddress: '02:42:ac:11:00:02' }, policy: {} }],
  },
  ports: {
    allowed: [
      { config: { ports: [{ containerPort: 80, protocol: 'tcp' }] }, policy: {} },
      { config: { ports: [{ containerPort: 80, hostPort: 8080, protocol: 'tcp' }] }, policy: { hostPorts: [8080] } },
      {
        config: { ports: [{ containerPort: 80, hostPort: 8042, protocol: 'udp', hostIp: '127.0.0.1' }] },
        policy: { hostPorts: ['8000-8099'] },
      },
    ],
    refused: [
      { config: { ports: [{ containerPort: 22, hostPort: 22, protocol: 'tcp' }] }, policy: {} },
      {
        config: { ports: [{ containerPort: 22, hostPort: 22, protocol: 'tcp' }] },
        policy: { hostPorts: ['8000-8099'] },
      },
      {
        config: { ports: [{ containerPort: 1, hostPort: 8100, protocol: 'tcp' }] },
        policy: { hostPorts: ['8000-8099'] },
      },
    ],
  },
  pid: {
    allowed: [{ policy: {} }, { config: { pid: 'host' }, policy: { allowHostPid: true } }],
    refused: [
      { config: { pid: 'host' }, policy: {} },
      { config: { pid: 'container:0123abcd' }, policy: {} },
      { config: { pid: 'service:x' }, policy: {} },
    ],
  },
  ipc: {
    allowed: [
      { config: { ipc: 'private' }, policy: {} },
      { config: { ipc: 'shareable' }, policy: {} },
      { config: { ipc: 'none' }, policy: {} },
      { config: { ipc: 'host' }, policy: { allowHostIpc: true } },
    ],
    refused: [
      { config: { ipc: 'host' }, policy: {} },
      { config: { ipc: 'container:abc' }, policy: {} },
      { config: { ipc: 'Private' }, policy: {} },
    ],
  },
  uts: {
    allowed: [{ policy: {} }, { config: { uts: 'host' }, policy: { allowHostUts: true } }],
    refused: [{ config: { uts: 'host' }, policy: {} }],
  },
  userns_mode: {
    allowed: [{ policy: {} }, { config: { usernsMode: 'host' }, policy: { allowHostUserns: true } }],
    refused: [{ config: { usernsMode: 'host' }, policy: {} }],
  },
  cgroup: {
    allowed: [
      { config: { cgroup: 'private' }, policy: {} },
      { config: { cgroup: 'host' }, policy: { allowHostCgroup: true } },
    ],
    refused: [{ config: { cgroup: 'host' }, policy: {} }],
  },
  cgroup_parent: {
    allowed: [{ config: { cgroupParent: 'system.slice' }, policy: { allowCgroupParent: true } }],
    refused: [{ config: { cgroupParent: 'system.slice' }, policy: {} }],
  },
  security_opt: {
    allowed: [
      { config: { securityOpt: ['no-new-privileges:true', 'no-new-privileges'] }, policy: {} },
      { config: { securityOpt: ['seccomp:unconfined'] }, policy: { securityOpt: ['seccomp=unconfined'] } },
    ],
    refused: [
      { config: { securityOpt: ['seccomp:unconfined'] }, policy: {} },
      { config: { securityOpt: ['apparmor=unconfined'] }, policy: { securityOpt: ['seccomp=unconfined'] } },
      { config: { securityOpt: ['label:disable'] }, policy: {} },
      { config: { securityOpt: ['no-new-privileges:false'] }, policy: {} },
      { config: { securityOpt: ['systempaths=unconfined'] }, policy: {} },
    ],
  },
  sysctls: {
    allowed: [
      { config: { sysctls: { 'net.core.somaxconn': '1024' } }, policy: {} },
      { config: { sysctls: { 'kernel.shmmax': '1' }, ipc: 'shareable' }, policy: {} },
      { config: { sysctls: { 'fs.mqueue.msg_max': '10' } }, policy: {} },
      { config: { sysctls: { 'vm.swappiness': '10' } }, policy: { sysctls: ['vm.swappiness'] } },
    ],
    refused: [
      { config: { sysctls: { 'net.core.somaxconn': '1024' }, networkMode: 'host' }, policy: {} },
      { config: { sysctls: { 'kernel.shmmax': '1' }, ipc: 'host' }, policy: {} },
      { config: { sysctls: { 'kernel.core_pattern': '|/tmp/x' } }, policy: {} },
      { config: { sysctls: { 'net/../../kernel/core_pattern': '|/tmp/x' } }, policy: {} },
      { config: { sysctls: { 'vm.overcommit_memory': '1' } }, policy: { sysctls: ['vm.swappiness'] } },
    ],
  },
  runtime: {
    allowed: [
      { config: { runtime: 'runc' }, policy: {} },
      { config: { runtime: 'nvidia' }, policy: { runtimes: ['nvidia'] } },
    ],
    refused: [{ config: { runtime: 'nvidia' }, policy: {} }],
  },
  annotations: {
    allowed: [{ config: { annotations: { a: 'b' } }, policy: { allowAnnotations: true } }],
    refused: [{ config: { annotations: { 'run.oci.hooks.stdout': '/etc/cron.d/x' } }, policy: {} }],
  },
  logging: {
    allowed: [
      { config: { logging: { driver: 'json-file', options: { 'max-size': '10m' } } }, policy: {} },
      { config: { logging: { driver: 'syslog', options: {} } }, policy: { logDrivers: ['syslog'] } },
    ],
    refused: [
      {
        config: { logging: { driver: 'syslog', options: { 'syslog-address': 'unix:///var/run/docker.sock' } } },
        policy: {},
      },
    ],
  },
  oom_kill_disable: {
    allowed: [
      { config: { resources: { oomKillDisable: false } }, policy: {} },
      { config: { resources: { oomKillDisable: true } }, policy: { allowHostResources: true } },
    ],
    refused: [{ config: { resources: { oomKillDisable: true } }, policy: {} }],
  },
  oom_score_adj: {
    allowed: [{ config: { resources: { oomScoreAdj: 500 } }, policy: {} }],
    refused: [{ config: { resources: { oomScoreAdj: -1000 } }, policy: {} }],
  },
  cpu_rt_runtime: {
    allowed: [{ config: { resources: { cpuRtRuntime: 950000 } }, policy: { allowHostResources: true } }],
    refused: [{ config: { resources: { cpuRtRuntime: 950000 } }, policy: {} }],
  },
  cpu_rt_period: {
    allowed: [{ config: { resources: { cpuRtPeriod: 1000000 } }, policy: { allowHostResources: true } }],
    refused: [{ config: { resources: { cpuRtPeriod: 1000000 } }, policy: {} }],
  },
  ulimits: {
    allowed: [{ config: { ulimits: { nofile: { soft: 1, hard: 2 } } }, policy: {} }],
    refused: [
      { config: { ulimits: { rtprio: { soft: 99, hard: 99 } } }, policy: {} },
      { config: { ulimits: { memlock: { soft: -1, hard: -1 } } }, policy: {} },
    ],
  },
};

const NETWORK_CASES: Record<string, Cases<NetworkCase>> = {
  name: {
    allowed: [
      { engineName: 'edge_lan', policy: {} },
      { engineName: 'host', policy: { allowHostNetwork: true } },
    ],
    refused: [
      { engineName: 'host', policy: {} },
      { engineName: 'Host', policy: {} },
    ],
  },
  driver: {
    allowed: [
      { def: { driver: 'bridge' }, policy: {} },
      { def: { driver: 'macvlan' }, policy: { networkDrivers: ['macvlan'] } },
    ],
    refused: [
      { def: { driver: 'macvlan' }, policy: {} },
      { def: { driver: 'ipvlan' }, policy: { networkDrivers: ['macvlan'] } },
      { def: { driver: 'host' }, policy: { networkDrivers: ['host'] }, rule: 'policy.allowHostNetwork' },
    ],
  },
  driver_opts: {
    allowed: [{ def: { driverOpts: { parent: 'eth0' } }, policy: { allowNetworkOptions: true } }],
    refused: [{ def: { driverOpts: { 'com.docker.network.bridge.name': 'br-lan' } }, policy: {} }],
  },
  ipam: {
    allowed: [{ def: { ipam: { config: [{ subnet: '192.168.1.0/24' }] } }, policy: { allowNetworkOptions: true } }],
    refused: [{ def: { ipam: { config: [{ subnet: '192.168.1.0/24' }] } }, policy: {} }],
  },
  external: {
    allowed: [
      { def: { external: true }, engineName: 'lan', policy: { externalNetworks: ['lan'] } },
      // The host network is the name row's: allowHostNetwork, not a list of external networks.
      { def: { external: true }, engineName: 'host', policy: {} },
    ],
    refused: [
      { def: { external: true }, engineName: 'other_default', policy: {} },
      { def: { external: true }, engineName: 'lan2', policy: { externalNetworks: ['lan'] } },
    ],
  },
};

const VOLUME_CASES: Record<string, Cases<VolumeCase>> = {
  driver: {
    allowed: [{ policy: {} }, { def: { driver: 'local-persist' }, policy: { volumeDrivers: ['local-persist'] } }],
    refused: [{ def: { driver: 'local-persist' }, policy: {} }],
  },
  driver_opts: {
    allowed: [
      { def: { driverOpts: { type: 'none', o: 'bind', device: '/srv/edge/x' } }, policy: { bindPaths: ['/srv/edge'] } },
      { def: { driverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=64m' } }, policy: {} },
      {
        def: { driverOpts: { type: 'nfs', o: 'addr=10.0.0.1', device: ':/x' } },
        policy: { allowVolumeDriverOpts: true },
      },
    ],
    refused: [
      { def: { driverOpts: { type: 'none', o: 'bind', device: '/' } }, policy: {}, rule: 'policy.bindPaths' },
      {
        def: { driverOpts: { o: 'ro,rbind', device: '/srv/edge/../../etc' } },
        policy: { bindPaths: ['/srv/edge'], allowVolumeDriverOpts: true },
        rule: 'policy.bindPaths',
      },
      {
        def: { driverOpts: { type: 'none', device: '/etc' } },
        policy: { bindPaths: ['/srv'] },
        rule: 'policy.bindPaths',
      },
      { def: { driverOpts: { type: 'ext4', device: '/dev/sda1' } }, policy: {} },
      { def: { driverOpts: { type: 'nfs', o: 'addr=10.0.0.1', device: ':/x' } }, policy: {} },
      {
        def: { driver: 'local-persist', driverOpts: { mountpoint: '/etc' } },
        policy: { volumeDrivers: ['local-persist'] },
      },
    ],
  },
  external: {
    allowed: [{ def: { external: true }, engineName: 'shared-data', policy: { externalVolumes: ['shared-data'] } }],
    refused: [{ def: { external: true }, engineName: 'other_data', policy: {} }],
  },
  name: {
    allowed: [
      { engineName: 'edge_data', policy: {} },
      { engineName: 'portainer_data', unmanaged: true, policy: { externalVolumes: ['portainer_data'] } },
    ],
    refused: [{ engineName: 'portainer_data', unmanaged: true, policy: {} }],
  },
};

function run(row: HostKey, c: ServiceCase | NetworkCase | VolumeCase) {
  if (row.scope === 'service') {
    const s = c as ServiceCase;
    const config = { ...baseService(), ...s.config };
    return row.check(
      {
        name: 'svc',
        config,
        mountAt: config.volumes.map((_, i) => [s.mountKey ?? 'volumes', i]),
        portAt: config.ports.map((_, i) => i),
        networkNames: s.networkNames ?? {},
      },
      s.policy,
    );
  }
  if (row.scope === 'network') {
    const n = c as NetworkCase;
    const def: DesiredNetwork = { name: 'lan', driver: 'bridge', internal: false, ...n.def };
    return row.check({ def, engineName: n.engineName ?? 'edge_lan' }, n.policy);
  }
  const v = c as VolumeCase;
  const def: DesiredVolume = { name: 'data', driver: 'local', ...v.def };
  return row.check(
    { def, engineName: v.engineName ?? 'edge_data', ...(v.unmanaged ? { unmanaged: true } : {}) },
    v.policy,
  );
}

const casesOf = (row: HostKey): Cases<ServiceCase | NetworkCase | VolumeCase> | undefined =>
  row.scope === 'service'
    ? SERVICE_CASES[row.key]
    : row.scope === 'network'
      ? NETWORK_CASES[row.key]
      : VOLUME_CASES[row.key];

describe('the policy table, row by row', () => {
  for (const row of HOST_KEYS) {
    test(`${row.scope} ${row.key} (${row.rule}): ${row.reaches}`, () => {
      const cases = casesOf(row);
      assert.ok(cases, `the row ${row.scope} ${row.key} has cases here`);
      assert.ok(cases.allowed.length > 0 && cases.refused.length > 0, 'at least one allowed and one refused use');
      for (const c of cases.allowed) assert.deepEqual(run(row, c), [], `allowed: ${JSON.stringify(c)}`);
      for (const c of cases.refused) {
        const found = run(row, c);
        assert.ok(found.length > 0, `refused: ${JSON.stringify(c)}`);
        for (const f of found) {
          assert.equal(f.rule ?? row.rule, c.rule ?? row.rule, `the rule named for ${JSON.stringify(c)}`);
          assert.ok(f.message.length > 10);
        }
      }
    });
  }

  test('every case here belongs to a row (no case tests a key the table lost)', () => {
    const rows = new Set(HOST_KEYS.map((r) => `${r.scope} ${r.key}`));
    const cased = [
      ...Object.keys(SERVICE_CASES).map((k) => `service ${k}`),
      ...Object.keys(NETWORK_CASES).map((k) => `network ${k}`),
      ...Object.keys(VOLUME_CASES).map((k) => `volume ${k}`),
    ];
    assert.deepEqual(
      cased.filter((k) => !rows.has(k)),
      [],
    );
  });
});

describe('the policy table is complete', () => {
  interface SpecSchema {
    definitions: Record<string, { properties: Record<string, unknown> }>;
  }
  const spec = JSON.parse(
    readFileSync(join(projectRoot, 'test/fixtures/compose-spec/compose-spec.json'), 'utf8'),
  ) as SpecSchema;
  const scopes = [
    { scope: 'service', loader: SERVICE_KEYS, spec: spec.definitions['service']!.properties },
    { scope: 'network', loader: NETWORK_KEYS, spec: spec.definitions['network']!.properties },
    { scope: 'volume', loader: VOLUME_KEYS, spec: spec.definitions['volume']!.properties },
  ] as const;

  for (const { scope, loader, spec: specKeys } of scopes)
    test(`every ${scope} key reaches the host (HOST_KEYS), is harmless (with a reason), or is refused`, () => {
      const host = new Set(HOST_KEYS.filter((r) => r.scope === scope).map((r) => r.key));
      const harmless = HARMLESS_KEYS[scope];
      const keys = new Set([...Object.keys(loader), ...Object.keys(specKeys)]);
      const unclassified: string[] = [];
      for (const k of keys) {
        const rule = loader[k];
        const refused = rule !== undefined && 'refused' in rule;
        const inHost = host.has(k);
        const inHarmless = k in harmless;
        assert.ok(!(inHost && inHarmless), `${scope} ${k} is in both lists`);
        if (refused) assert.ok(!inHost && !inHarmless, `${scope} ${k} is refused by the loader; no list needs it`);
        else if (!inHost && !inHarmless) unclassified.push(k);
      }
      assert.deepEqual(unclassified, [], `${scope} keys neither in HOST_KEYS nor in HARMLESS_KEYS`);
      for (const k of [...host, ...Object.keys(harmless)])
        assert.ok(keys.has(k), `${scope} ${k} is listed but is no Compose key`);
      for (const [k, why] of Object.entries(harmless)) assert.ok(why.length > 8, `a reason for ${scope} ${k}`);
    });
});
