// The rows of the services' keys that join the host's networks and namespaces, or another
// container's: network_mode, networks and MAC addresses, published ports, the pid, ipc, uts, user
// and cgroup namespaces, and a cgroup parent.

import { list, one, ownNamespace, type HostKey } from './row.js';

/** `8080` or `8000-8099`: the ports an entry of policy.hostPorts allows. */
function portAllowed(port: number, entries: readonly (string | number)[]): boolean {
  return entries.some((e) => {
    const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(String(e).trim());
    return m !== null && port >= Number(m[1]) && port <= Number(m[2] ?? m[1]);
  });
}

/** A namespace mode of a service: its own (the harmless values), or the host's or another container's. */
function namespaceRow(
  key: 'pid' | 'ipc' | 'uts' | 'userns_mode' | 'cgroup',
  field: 'pid' | 'ipc' | 'uts' | 'usernsMode' | 'cgroup',
  rule: 'allowHostPid' | 'allowHostIpc' | 'allowHostUts' | 'allowHostUserns' | 'allowHostCgroup',
  own: readonly string[],
  what: string,
): HostKey {
  return {
    scope: 'service',
    key,
    reaches: `the host's ${what} namespace (host), or another container's (container:…, which may be the host's)`,
    rule: `policy.${rule}`,
    check: (s, p) => {
      const mode = s.config[field];
      return one(
        !ownNamespace(mode, own) && p[rule] !== true,
        `${key}: ${JSON.stringify(mode)} (the host's ${what} namespace, or another container's) is not allowed`,
      );
    },
  };
}

/**
 * Every Compose key that reaches the host. A key not here is in HARMLESS_KEYS, with the reason

/** In the table's order (HOST_KEYS), after the privilege rows. */
export const SERVICE_NAMESPACE_KEYS: readonly HostKey[] = [
  {
    scope: 'service',
    key: 'network_mode',
    reaches: "the host's network stack (host), or another container's (container:…, service:…)",
    rule: 'policy.allowHostNetwork',
    check: (s, p) => {
      const m = s.config.networkMode;
      return one(
        !ownNamespace(m, ['bridge', 'none']) && p.allowHostNetwork !== true,
        m === 'host'
          ? 'the host network is not allowed'
          : `network_mode ${JSON.stringify(m)} (another container's network, which may be the host's) is not allowed`,
      );
    },
  },
  {
    scope: 'service',
    key: 'networks',
    reaches: 'a network whose Engine name is host; a fixed MAC address on a network (mac_address)',
    rule: 'policy.allowHostNetwork',
    check: (s, p) =>
      s.config.networks.flatMap((n) => [
        ...one(
          (s.networkNames[n] ?? '').trim().toLowerCase() === 'host' && p.allowHostNetwork !== true,
          `network "${n}" is the host network, which is not allowed`,
          [n],
        ),
        ...(s.config.networkEndpoints?.[n]?.macAddress && p.allowNetworkOptions !== true
          ? [
              {
                at: [n, 'mac_address'],
                message: 'a fixed MAC address is not allowed',
                rule: 'policy.allowNetworkOptions' as const,
              },
            ]
          : []),
      ]),
  },
  {
    scope: 'service',
    key: 'mac_address',
    reaches: "a fixed MAC address on the gateway's networks (which can impersonate the host or a neighbour)",
    rule: 'policy.allowNetworkOptions',
    check: (s, p) =>
      one(s.config.macAddress !== undefined && p.allowNetworkOptions !== true, 'a fixed MAC address is not allowed'),
  },
  {
    scope: 'service',
    key: 'ports',
    reaches: 'ports of the host (published on a fixed host port; an ephemeral one is harmless)',
    rule: 'policy.hostPorts',
    check: (s, p) =>
      s.config.ports.flatMap((m, i) =>
        one(
          m.hostPort !== undefined && !portAllowed(m.hostPort, p.hostPorts ?? []),
          `host port ${m.hostPort} is not allowed (allowed: ${list(p.hostPorts?.map(String))})`,
          s.portAt[i] === undefined ? [] : [s.portAt[i]!],
        ),
      ),
  },
  namespaceRow('pid', 'pid', 'allowHostPid', [], 'PID'),
  namespaceRow('ipc', 'ipc', 'allowHostIpc', ['private', 'shareable', 'none'], 'IPC'),
  namespaceRow('uts', 'uts', 'allowHostUts', [], 'UTS (hostname)'),
  namespaceRow('userns_mode', 'usernsMode', 'allowHostUserns', [], 'user'),
  namespaceRow('cgroup', 'cgroup', 'allowHostCgroup', ['private'], 'cgroup'),
  {
    scope: 'service',
    key: 'cgroup_parent',
    reaches: 'a cgroup of the host outside the one Docker puts containers in (and its limits)',
    rule: 'policy.allowCgroupParent',
    check: (s, p) =>
      one(s.config.cgroupParent !== undefined && p.allowCgroupParent !== true, 'a cgroup parent is not allowed'),
  },
];
