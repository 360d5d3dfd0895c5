// The rows of the networks' keys that reach the host: the host network by name or driver, other
// drivers, driver options and IPAM, and networks made outside the app.

import { list, one, plus, type HostKey } from './row.js';

export const NETWORK_KEYS: readonly HostKey[] = [
  {
    scope: 'network',
    key: 'name',
    reaches: 'the host network (an Engine name of host)',
    rule: 'policy.allowHostNetwork',
    check: (n, p) =>
      one(
        n.engineName.trim().toLowerCase() === 'host' && p.allowHostNetwork !== true,
        `network "${n.def.name}" is the host network, which is not allowed`,
      ),
  },
  {
    scope: 'network',
    key: 'driver',
    reaches: "the host's network stack (host), an interface of the host (macvlan, ipvlan), or a plugin",
    rule: 'policy.networkDrivers',
    check: (n, p) => {
      const d = n.def.driver;
      if (d === 'bridge') return [];
      if (d === 'host')
        return p.allowHostNetwork === true
          ? []
          : [{ at: [], message: 'the host network driver is not allowed', rule: 'policy.allowHostNetwork' }];
      return one(
        !(p.networkDrivers ?? []).includes(d),
        `network driver ${d} is not allowed (allowed: ${plus('bridge', p.networkDrivers)})`,
      );
    },
  },
  {
    scope: 'network',
    key: 'driver_opts',
    reaches: 'a bridge or interface of the host (com.docker.network.bridge.name, parent)',
    rule: 'policy.allowNetworkOptions',
    check: (n, p) =>
      one(n.def.driverOpts !== undefined && p.allowNetworkOptions !== true, 'network driver options are not allowed'),
  },
  {
    scope: 'network',
    key: 'ipam',
    reaches: "the host's routes (a subnet can shadow the gateway's own networks)",
    rule: 'policy.allowNetworkOptions',
    check: (n, p) =>
      one(
        n.def.ipam !== undefined && p.allowNetworkOptions !== true,
        'IP address management settings (subnets, gateways, an IPAM driver) are not allowed',
      ),
  },
  {
    scope: 'network',
    key: 'external',
    reaches: "a network made outside this app (another app's, or one of the host's)",
    rule: 'policy.externalNetworks',
    check: (n, p) =>
      one(
        n.def.external === true &&
          n.engineName.trim().toLowerCase() !== 'host' && // the name row says that one
          !(p.externalNetworks ?? []).includes(n.engineName),
        `external network ${n.engineName} is not allowed (allowed: ${list(p.externalNetworks)})`,
      ),
  },
];
