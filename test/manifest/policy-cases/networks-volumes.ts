// The cases of the networks' and volumes' rows of the policy's table.

import type { Cases, NetworkCase, VolumeCase } from './case.js';

export const NETWORK_CASES: Record<string, Cases<NetworkCase>> = {
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

export const VOLUME_CASES: Record<string, Cases<VolumeCase>> = {
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
