// The cases of the services' rows of the policy's table: for each key, uses the rule allows and uses
// it refuses, with the normalisation and traversal variants an outsider would try.

import { bind, hook, type Cases, type ServiceCase } from './case.js';

export const SERVICE_CASES: Record<string, Cases<ServiceCase>> = {
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
