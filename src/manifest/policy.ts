// The gateway's own policy: what its owner allows the fleet repo to ask for, whatever is
// committed. Absent rules allow everything (the default stays permissive); each rule narrows.
// Checked while the commit loads, so a breach is a problem at the file:line that asked for it,
// naming the rule, and the commit is refused before anything runs (safety rule 9).

import type { DesiredComponent, ServiceConfig } from '../model/index.js';

export interface GatewayPolicy {
  /** Registries images may come from (`docker.io` for Docker Hub); absent: any. */
  registries?: string[];
  /** Only images pinned by digest (`image@sha256:…`). */
  digestsOnly?: boolean;
  allowPrivileged?: boolean;
  allowHostNetwork?: boolean;
  allowHostPid?: boolean;
  /** Capabilities `cap_add` may name; absent: any. */
  capabilities?: string[];
  /** Host device paths (prefixes) `devices` may map; absent: any; empty: none. */
  devices?: string[];
  /** Host path prefixes bind mounts may use (the state directory's own files are always allowed); absent: any. */
  bindPaths?: string[];
  /** Executables health `command` checks may run; absent: any; empty: no command checks. */
  healthCommands?: string[];
  /** Update interfaces and Update Modules components may use; absent: any. */
  interfaces?: string[];
  /** Run the system's Mender state scripts (off: a commit with state scripts is refused). */
  stateScripts?: boolean;
}

export interface Breach {
  /** The policy key, e.g. `policy.allowPrivileged`. */
  rule: string;
  /** The Compose (or manifest) key that asked for it, as a path under the service. */
  key: (string | number)[];
  message: string;
}

/** The registry of an image reference, as Docker resolves it (docker.io when none is named). */
export function registryOf(image: string): string {
  const first = image.split('/')[0]!;
  if (!image.includes('/') || (!first.includes('.') && !first.includes(':') && first !== 'localhost'))
    return 'docker.io';
  return first;
}

const underAny = (path: string, prefixes: readonly string[]) =>
  prefixes.some((p) => {
    const base = p.replace(/\/+$/, '');
    return path === base || path.startsWith(`${base}/`) || base === '';
  });

/** What a service asks for that the policy does not allow. */
export function serviceBreaches(c: ServiceConfig, p: GatewayPolicy): Breach[] {
  const out: Breach[] = [];
  const image = c.image;
  if (p.registries && !p.registries.includes(registryOf(image)))
    out.push({
      rule: 'policy.registries',
      key: ['image'],
      message:
        `image ${image} comes from ${registryOf(image)}, and this gateway pulls only from ` + p.registries.join(', '),
    });
  if (p.digestsOnly && !/@sha256:[0-9a-f]{64}$/.test(image))
    out.push({
      rule: 'policy.digestsOnly',
      key: ['image'],
      message: `image ${image} is not pinned by digest, and this gateway runs only image@sha256:… references`,
    });
  if (c.privileged && p.allowPrivileged === false)
    out.push({ rule: 'policy.allowPrivileged', key: ['privileged'], message: 'privileged containers are not allowed' });
  for (const k of ['post_start', 'pre_stop'] as const)
    (k === 'post_start' ? c.postStart : c.preStop)?.forEach((h, i) => {
      if (h.privileged && p.allowPrivileged === false)
        out.push({ rule: 'policy.allowPrivileged', key: [k, i], message: `a privileged ${k} hook is not allowed` });
    });
  if (c.networkMode === 'host' && p.allowHostNetwork === false)
    out.push({ rule: 'policy.allowHostNetwork', key: ['network_mode'], message: 'the host network is not allowed' });
  if (c.pid === 'host' && p.allowHostPid === false)
    out.push({ rule: 'policy.allowHostPid', key: ['pid'], message: "the host's PID namespace is not allowed" });
  if (p.capabilities) {
    const allowed = new Set(p.capabilities.map((x) => x.toUpperCase().replace(/^CAP_/, '')));
    for (const cap of c.capAdd)
      if (!allowed.has(cap.toUpperCase().replace(/^CAP_/, '')))
        out.push({
          rule: 'policy.capabilities',
          key: ['cap_add'],
          message: `capability ${cap} is not allowed (allowed: ${p.capabilities.join(', ') || 'none'})`,
        });
  }
  if (p.devices)
    c.devices.forEach((d, i) => {
      const host = d.split(':')[0]!;
      // Device prefixes are plain string prefixes: /dev/ttyUSB allows /dev/ttyUSB0, /dev/ttyUSB1, ...
      if (!p.devices!.some((prefix) => host.startsWith(prefix)))
        out.push({
          rule: 'policy.devices',
          key: ['devices', i],
          message: `device ${host} is not allowed (allowed: ${p.devices!.join(', ') || 'none'})`,
        });
    });
  if (p.bindPaths)
    c.volumes.forEach((v, i) => {
      if (v.type !== 'bind' || v.repo || v.data || v.source === undefined) return;
      if (!underAny(v.source, p.bindPaths!))
        out.push({
          rule: 'policy.bindPaths',
          key: ['volumes', i],
          message: `bind mount of ${v.source} is not allowed (allowed under: ${p.bindPaths!.join(', ') || 'nothing'})`,
        });
    });
  return out;
}

/** Whether a health `command` check may run `argv`. */
export function commandBreach(argv: readonly string[], p: GatewayPolicy): string | undefined {
  if (!p.healthCommands) return undefined;
  const exe = argv[0] ?? '';
  const base = exe.split('/').pop() ?? exe;
  if (p.healthCommands.includes(exe) || p.healthCommands.includes(base)) return undefined;
  return p.healthCommands.length === 0
    ? 'command checks are not allowed on this gateway (policy.healthCommands is empty)'
    : `command ${exe} is not allowed (policy.healthCommands: ${p.healthCommands.join(', ')})`;
}

/** Whether a component may use its interface. */
export function interfaceBreach(c: Pick<DesiredComponent, 'interface'>, p: GatewayPolicy): string | undefined {
  if (!p.interfaces || p.interfaces.includes(c.interface)) return undefined;
  return `interface ${c.interface} is not allowed (policy.interfaces: ${p.interfaces.join(', ') || 'none'})`;
}
