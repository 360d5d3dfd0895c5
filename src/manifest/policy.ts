// The gateway's own policy: what its owner allows the fleet repo to ask for, whatever is
// committed. No policy at all allows everything (the default stays permissive). With a policy,
// anything that reaches the host is refused unless a rule allows it: every such Compose key is a
// row of HOST_KEYS, and the checks are those rows. Checked while the commit loads, so a breach is
// a problem at the file:line that asked for it, naming the rule, and the commit is refused before
// anything runs (safety rule 9); the rows marked `atApply` run again in the Docker applier, right
// before a container is created, on what the paths resolve to on the gateway.

import { posix } from 'node:path';
import type { DesiredComponent, DesiredNetwork, DesiredVolume, ServiceConfig } from '../model/index.js';

export interface GatewayPolicy {
  /** Registries images may come from (`docker.io` for Docker Hub); absent: any. */
  registries?: string[];
  /** Only images pinned by digest (`image@sha256:…`). */
  digestsOnly?: boolean;
  allowPrivileged?: boolean;
  allowHostNetwork?: boolean;
  allowHostPid?: boolean;
  allowHostIpc?: boolean;
  allowHostUts?: boolean;
  allowHostUserns?: boolean;
  allowHostCgroup?: boolean;
  allowCgroupParent?: boolean;
  /** Capabilities `cap_add` may name. */
  capabilities?: string[];
  /** Host device paths (or name prefixes such as /dev/ttyUSB) `devices` may map. */
  devices?: string[];
  /** `device_cgroup_rules` entries allowed as written (e.g. `c 188:* rwm`). */
  deviceCgroupRules?: string[];
  /** Host directories bind mounts may use (the state directory's own files are always allowed). */
  bindPaths?: string[];
  /** `volumes_from: [container:…]`, the volumes of a container outside the app. */
  allowVolumesFrom?: boolean;
  /** Volume drivers besides `local`. */
  volumeDrivers?: string[];
  /** Volume `driver_opts` other than a bind of an allowed path or a tmpfs (a disk, a share, a plugin's). */
  allowVolumeDriverOpts?: boolean;
  /** Engine names of volumes made outside the app that it may use (external, or found already there). */
  externalVolumes?: string[];
  /** Network drivers besides `bridge` (e.g. macvlan). */
  networkDrivers?: string[];
  /** Network `driver_opts` and `ipam`, and fixed MAC addresses. */
  allowNetworkOptions?: boolean;
  /** Engine names of networks made outside the app that it may join. */
  externalNetworks?: string[];
  /** Host ports (`8080`, `8000-8099`) services may publish on. */
  hostPorts?: (string | number)[];
  /** `security_opt` values allowed as written (`no-new-privileges` always is). */
  securityOpt?: string[];
  /** Sysctls allowed besides the namespaced ones of a container's own namespaces. */
  sysctls?: string[];
  /** OCI runtimes besides runc. */
  runtimes?: string[];
  /** Logging drivers besides json-file, local and none. */
  logDrivers?: string[];
  /** `annotations`, which some OCI runtimes read as their own settings. */
  allowAnnotations?: boolean;
  /** oom_kill_disable, a negative oom_score_adj, real-time CPU, and the rtprio, memlock and nice ulimits. */
  allowHostResources?: boolean;
  /** Executables health `command` checks may run (names on the system PATH, or absolute paths). */
  healthCommands?: string[];
  /** Run health `command` checks as root; under a policy they run as nobody unless this is set. */
  allowRootHealthCommands?: boolean;
  /** Update interfaces and Update Modules components may use. */
  interfaces?: string[];
  /** Arguments the fleet repo may give an interface, as `interface=argument` (component ids included). */
  interfaceArgs?: string[];
  /** Run the system's Mender state scripts. */
  stateScripts?: boolean;
}

/** A policy key, as problems name it: `policy.allowPrivileged`. */
export type PolicyRule = `policy.${keyof GatewayPolicy}`;

export interface Breach {
  rule: PolicyRule;
  /** Where it was asked for, from the top of the Compose file: ['services', 'web', 'volumes', 2]. */
  path: (string | number)[];
  message: string;
}

/** What one row's check found: where, under the row's key, and what; `rule` when another rule than the row's. */
export interface Finding {
  at: (string | number)[];
  message: string;
  rule?: PolicyRule;
}

/** A service as the checks see it. */
export interface ServiceSubject {
  name: string;
  config: ServiceConfig;
  /** Where each of `config.volumes` was written, under the service: ['volumes', 2], ['secrets', 0]. */
  mountAt: (string | number)[][];
  /** The index in `ports:` of each of `config.ports`. */
  portAt: number[];
  /** The Engine name of each network key the service joins. */
  networkNames: Record<string, string>;
}

export interface NetworkSubject {
  def: DesiredNetwork;
  engineName: string;
}

export interface VolumeSubject {
  def: DesiredVolume;
  engineName: string;
  /** At apply time: a volume of this name is on the gateway, and rollgate did not make it. */
  unmanaged?: boolean;
}

/** One Compose app as the checks see it. */
export interface ComposeSubject {
  services: ServiceSubject[];
  networks: NetworkSubject[];
  volumes: VolumeSubject[];
}

interface RowBase {
  key: string;
  /** What on the host the key reaches. */
  reaches: string;
  /** The rule that allows it. */
  rule: PolicyRule;
  /** Checked again at apply time on what the gateway has (paths resolved, volumes found there). */
  atApply?: true;
}

/** A Compose key that reaches the host, the rule that allows it, and the check. */
export type HostKey =
  | (RowBase & { scope: 'service'; check: (s: ServiceSubject, p: GatewayPolicy) => Finding[] })
  | (RowBase & { scope: 'network'; check: (n: NetworkSubject, p: GatewayPolicy) => Finding[] })
  | (RowBase & { scope: 'volume'; check: (v: VolumeSubject, p: GatewayPolicy) => Finding[] });

/** The registry of an image reference, as Docker resolves it (docker.io when none is named). */
export function registryOf(image: string): string {
  const first = image.split('/')[0]!;
  if (!image.includes('/') || (!first.includes('.') && !first.includes(':') && first !== 'localhost'))
    return 'docker.io';
  return first;
}

/**
 * A host path as the policy compares it: absolute, no `..` (the kernel resolves `..` after the
 * symlinks before it, so a lexical normalisation could be fooled), normalised (`//`, `/./`, a
 * trailing slash). A string says why it is refused.
 */
export function hostPath(raw: string): { path: string } | string {
  if (!raw.startsWith('/')) return `${JSON.stringify(raw)} is not an absolute path`;
  if (raw.split('/').includes('..')) return `${JSON.stringify(raw)} goes through ".."`;
  // No file of the host has one: the kernel would end the path there, and Node refuses to resolve it.
  if (raw.includes('\0')) return `${JSON.stringify(raw)} contains a NUL character`;
  const n = posix.normalize(raw);
  return { path: n.length > 1 ? n.replace(/\/+$/, '') : n };
}

/** Whether `path` (normalised) is one of `dirs` or under one of them. */
export function underAny(path: string, dirs: readonly string[]): boolean {
  return dirs.some((d) => {
    const dir = hostPath(d);
    if (typeof dir === 'string') return false;
    return path === dir.path || dir.path === '/' || path.startsWith(`${dir.path}/`);
  });
}

/**
 * Whether a device path is allowed: an entry itself, under an entry, or, for an entry without a
 * trailing slash, named with the entry's name as a prefix in the same directory (/dev/ttyUSB
 * allows /dev/ttyUSB0; /dev/serial/ allows only what is under /dev/serial).
 */
function deviceAllowed(path: string, entries: readonly string[]): boolean {
  return entries.some((e) => {
    const entry = hostPath(e);
    if (typeof entry === 'string') return false;
    const p = entry.path;
    if (underAny(path, [p])) return true;
    if (e.endsWith('/')) return false;
    return posix.dirname(path) === posix.dirname(p) && posix.basename(path).startsWith(posix.basename(p));
  });
}

const list = (xs: readonly string[] | undefined) => (xs?.length ? xs.join(', ') : 'none');
/** What is allowed: what always is, then what the policy adds. */
const plus = (always: string, more: readonly string[] | undefined) => [always, ...(more ?? [])].join(', ');
const normCap = (c: string) => c.toUpperCase().replace(/^CAP_/, '');
/** `seccomp:unconfined` and `seccomp=unconfined` are the same option to the Engine. */
const normSecurityOpt = (o: string) => o.trim().replace(/^([^:=]+)[:=]/, '$1=');
const normRule = (r: string) => r.trim().replace(/\s+/g, ' ');

/** Namespaced sysctls (Docker's documentation): harmless while the container has its own namespace. */
const IPC_SYSCTLS = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);
const SYSCTL_NAME = /^[a-z0-9_-]+(\.[a-zA-Z0-9_-]+)+$/;
/** Whether a namespace mode is the container's own: joining none, the host's or another container's. */
const ownNamespace = (mode: string | undefined, own: readonly string[]) => mode === undefined || own.includes(mode);

function namespacedSysctl(name: string, c: ServiceConfig): boolean {
  if (!SYSCTL_NAME.test(name)) return false;
  if (name.startsWith('net.'))
    return c.networkMode === undefined || c.networkMode === 'bridge' || c.networkMode === 'none';
  if (IPC_SYSCTLS.has(name) || name.startsWith('fs.mqueue.'))
    return ownNamespace(c.ipc, ['private', 'shareable', 'none']);
  return false;
}

/** `8080` or `8000-8099`: the ports an entry of policy.hostPorts allows. */
function portAllowed(port: number, entries: readonly (string | number)[]): boolean {
  return entries.some((e) => {
    const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(String(e).trim());
    return m !== null && port >= Number(m[1]) && port <= Number(m[2] ?? m[1]);
  });
}

/** Ulimits that take from the host: real-time priority, locked memory, scheduling priority. */
const HOST_ULIMITS = new Set(['rtprio', 'memlock', 'nice']);

/**
 * Named volume options of the `local` driver: a bind of `device` (`o: bind`, or `type: none`), a
 * tmpfs (memory), or a mount of anything else the kernel can mount (a disk, a share).
 */
export function localVolumeKind(opts: Record<string, string>): 'bind' | 'tmpfs' | 'other' {
  const o = (opts['o'] ?? '').split(',').map((x) => x.trim());
  if (o.includes('bind') || o.includes('rbind') || opts['type'] === 'none') return 'bind';
  if (opts['type'] === 'tmpfs' && Object.keys(opts).every((k) => k === 'type' || k === 'o' || k === 'device'))
    return 'tmpfs';
  return 'other';
}

/** Why a bind of `raw` is refused by policy.bindPaths, if it is. */
function bindFinding(raw: string, p: GatewayPolicy, what: string): string | undefined {
  const h = hostPath(raw);
  if (typeof h === 'string') return `${what} ${h}`;
  if (underAny(h.path, p.bindPaths ?? [])) return undefined;
  return `${what} ${h.path} is not allowed (allowed under: ${p.bindPaths?.length ? p.bindPaths.join(', ') : 'none'})`;
}

/** Binds of host paths among the mounts written under `key` (repo files and data directories are always allowed). */
function mountFindings(key: string) {
  return (s: ServiceSubject, p: GatewayPolicy): Finding[] =>
    s.config.volumes.flatMap((v, i) => {
      const at = s.mountAt[i] ?? ['volumes', i];
      if (at[0] !== key || v.type !== 'bind' || v.repo || v.data !== undefined || v.source === undefined) return [];
      const why = bindFinding(v.source, p, 'bind mount of');
      return why ? [{ at: at.slice(1), message: why }] : [];
    });
}

const one = (when: boolean, message: string, at: (string | number)[] = []): Finding[] =>
  when ? [{ at, message }] : [];

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
 * (test/manifest/policy-table.test.ts holds both lists against keys.ts and the specification).
 */
export const HOST_KEYS: readonly HostKey[] = [
  {
    scope: 'service',
    key: 'privileged',
    reaches: 'every device and capability of the host',
    rule: 'policy.allowPrivileged',
    check: (s, p) => one(s.config.privileged && p.allowPrivileged !== true, 'privileged containers are not allowed'),
  },
  ...(['post_start', 'pre_stop'] as const).map((k): HostKey => ({
    scope: 'service',
    key: k,
    reaches: 'a command run in the container with every capability of the host (privileged: true)',
    rule: 'policy.allowPrivileged',
    check: (s, p) =>
      (k === 'post_start' ? s.config.postStart : s.config.preStop)?.flatMap((h, i) =>
        one(h.privileged === true && p.allowPrivileged !== true, `a privileged ${k} hook is not allowed`, [i]),
      ) ?? [],
  })),
  {
    scope: 'service',
    key: 'cap_add',
    reaches: "kernel capabilities beyond Docker's default set",
    rule: 'policy.capabilities',
    check: (s, p) => {
      const allowed = new Set((p.capabilities ?? []).map(normCap));
      return s.config.capAdd
        .filter((c) => !allowed.has(normCap(c)))
        .map((c) => ({ at: [], message: `capability ${c} is not allowed (allowed: ${list(p.capabilities)})` }));
    },
  },
  {
    scope: 'service',
    key: 'devices',
    reaches: 'device nodes of the host',
    rule: 'policy.devices',
    atApply: true,
    check: (s, p) =>
      s.config.devices.flatMap((d, i) => {
        const raw = d.split(':')[0]!;
        const h = hostPath(raw);
        if (typeof h === 'string') return [{ at: [i], message: `device ${h}` }];
        return one(
          !deviceAllowed(h.path, p.devices ?? []),
          `device ${h.path} is not allowed (allowed: ${list(p.devices)})`,
          [i],
        );
      }),
  },
  {
    scope: 'service',
    key: 'device_cgroup_rules',
    reaches: 'access to device numbers of the host (b *:* rwm: every disk)',
    rule: 'policy.deviceCgroupRules',
    check: (s, p) => {
      const allowed = new Set((p.deviceCgroupRules ?? []).map(normRule));
      return (s.config.deviceCgroupRules ?? []).flatMap((r, i) =>
        one(!allowed.has(normRule(r)), `device cgroup rule "${r}" is not allowed`, [i]),
      );
    },
  },
  {
    scope: 'service',
    key: 'volumes',
    reaches: 'paths of the host (bind mounts)',
    rule: 'policy.bindPaths',
    atApply: true,
    check: mountFindings('volumes'),
  },
  {
    scope: 'service',
    key: 'configs',
    reaches: 'files of the host (a config whose file: is an absolute path)',
    rule: 'policy.bindPaths',
    atApply: true,
    check: mountFindings('configs'),
  },
  {
    scope: 'service',
    key: 'secrets',
    reaches: 'files of the host (a secret whose file: is an absolute path)',
    rule: 'policy.bindPaths',
    atApply: true,
    check: mountFindings('secrets'),
  },
  {
    scope: 'service',
    key: 'volumes_from',
    reaches: 'the mounts of a container outside the app (container:…)',
    rule: 'policy.allowVolumesFrom',
    check: (s, p) =>
      (s.config.volumesFrom ?? []).flatMap((v, i) =>
        one(
          v.startsWith('container:') && p.allowVolumesFrom !== true,
          `volumes from ${v}, a container outside this app, are not allowed`,
          [i],
        ),
      ),
  },
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
  {
    scope: 'service',
    key: 'security_opt',
    reaches: "the container's confinement: seccomp, AppArmor, SELinux, no-new-privileges",
    rule: 'policy.securityOpt',
    check: (s, p) => {
      const allowed = new Set((p.securityOpt ?? []).map(normSecurityOpt));
      return (s.config.securityOpt ?? []).flatMap((o, i) => {
        const n = normSecurityOpt(o);
        // Hardening: it only takes privileges away.
        if (n === 'no-new-privileges' || n === 'no-new-privileges=true') return [];
        return one(!allowed.has(n), `security option "${o}" is not allowed (allowed: ${list(p.securityOpt)})`, [i]);
      });
    },
  },
  {
    scope: 'service',
    key: 'sysctls',
    reaches: 'kernel parameters of the host (those not namespaced, or of a namespace shared with the host)',
    rule: 'policy.sysctls',
    check: (s, p) =>
      Object.keys(s.config.sysctls ?? {}).flatMap((name) =>
        one(
          !namespacedSysctl(name, s.config) && !(p.sysctls ?? []).includes(name),
          `sysctl ${name} is not allowed: it is not namespaced to this container (allowed: ${list(p.sysctls)})`,
          [name],
        ),
      ),
  },
  {
    scope: 'service',
    key: 'runtime',
    reaches: 'the OCI runtime that starts the container (runc is harmless)',
    rule: 'policy.runtimes',
    check: (s, p) => {
      const r = s.config.runtime;
      return one(
        r !== undefined && r !== 'runc' && !(p.runtimes ?? []).includes(r),
        `runtime ${r} is not allowed (allowed: ${plus('runc', p.runtimes)})`,
      );
    },
  },
  {
    scope: 'service',
    key: 'annotations',
    reaches: "the OCI runtime's own settings (crun, for one, reads host paths from annotations)",
    rule: 'policy.allowAnnotations',
    check: (s, p) =>
      one(s.config.annotations !== undefined && p.allowAnnotations !== true, 'OCI annotations are not allowed'),
  },
  {
    scope: 'service',
    key: 'logging',
    reaches: "the Engine's log driver, which opens the host's sockets and files as root (syslog, fluentd, gelf…)",
    rule: 'policy.logDrivers',
    check: (s, p) => {
      const d = s.config.logging?.driver;
      return one(
        d !== undefined && !['json-file', 'local', 'none'].includes(d) && !(p.logDrivers ?? []).includes(d),
        `logging driver ${d} is not allowed (allowed: ${plus('json-file, local, none', p.logDrivers)})`,
        ['driver'],
      );
    },
  },
  {
    scope: 'service',
    key: 'oom_kill_disable',
    reaches: "the host's memory: out of it, the kernel kills the host's processes instead",
    rule: 'policy.allowHostResources',
    check: (s, p) =>
      one(
        s.config.resources?.oomKillDisable === true && p.allowHostResources !== true,
        'oom_kill_disable is not allowed',
      ),
  },
  {
    scope: 'service',
    key: 'oom_score_adj',
    reaches: "the host's memory: a negative score makes the host's own processes die first",
    rule: 'policy.allowHostResources',
    check: (s, p) =>
      one(
        (s.config.resources?.oomScoreAdj ?? 0) < 0 && p.allowHostResources !== true,
        'a negative oom_score_adj is not allowed',
      ),
  },
  ...(['cpu_rt_runtime', 'cpu_rt_period'] as const).map((k): HostKey => ({
    scope: 'service',
    key: k,
    reaches: "the host's CPUs: real-time scheduling can starve the host",
    rule: 'policy.allowHostResources',
    check: (s, p) =>
      one(
        (k === 'cpu_rt_runtime' ? s.config.resources?.cpuRtRuntime : s.config.resources?.cpuRtPeriod) !== undefined &&
          p.allowHostResources !== true,
        `${k} (real-time CPU) is not allowed`,
      ),
  })),
  {
    scope: 'service',
    key: 'ulimits',
    reaches: "the host's CPU and memory: rtprio, nice and memlock",
    rule: 'policy.allowHostResources',
    check: (s, p) =>
      Object.keys(s.config.ulimits ?? {}).flatMap((u) =>
        one(HOST_ULIMITS.has(u) && p.allowHostResources !== true, `ulimit ${u} is not allowed`, [u]),
      ),
  },
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
  {
    scope: 'volume',
    key: 'driver',
    reaches: 'a volume plugin, which may mount anything of the host',
    rule: 'policy.volumeDrivers',
    check: (v, p) =>
      one(
        v.def.driver !== 'local' && !(p.volumeDrivers ?? []).includes(v.def.driver),
        `volume driver ${v.def.driver} is not allowed (allowed: ${plus('local', p.volumeDrivers)})`,
      ),
  },
  {
    scope: 'volume',
    key: 'driver_opts',
    reaches: 'a path of the host (o: bind, device: /…), a disk or a network share (type: ext4, nfs…)',
    rule: 'policy.allowVolumeDriverOpts',
    atApply: true,
    check: (v, p) => {
      const opts = v.def.driverOpts;
      if (!opts) return [];
      const kind = v.def.driver === 'local' ? localVolumeKind(opts) : 'other';
      if (kind === 'tmpfs') return [];
      if (kind === 'bind') {
        const why = bindFinding(opts['device'] ?? '', p, `volume "${v.def.name}" binds`);
        return why ? [{ at: ['device'], message: why, rule: 'policy.bindPaths' }] : [];
      }
      return one(
        p.allowVolumeDriverOpts !== true,
        `volume "${v.def.name}" mounts ${opts['type'] ? `a ${opts['type']} file system` : 'with driver options'}, ` +
          'which is not allowed',
      );
    },
  },
  {
    scope: 'volume',
    key: 'external',
    reaches: "a volume made outside this app (another instance's data, or a bind of a host path)",
    rule: 'policy.externalVolumes',
    check: (v, p) =>
      one(
        v.def.external === true && !(p.externalVolumes ?? []).includes(v.engineName),
        `external volume ${v.engineName} is not allowed (allowed: ${list(p.externalVolumes)})`,
      ),
  },
  {
    scope: 'volume',
    key: 'name',
    reaches: 'a volume already on the gateway that rollgate did not make, found under this name at apply time',
    rule: 'policy.externalVolumes',
    atApply: true,
    check: (v, p) =>
      one(
        v.unmanaged === true && !(p.externalVolumes ?? []).includes(v.engineName),
        `volume ${v.engineName} is already on the gateway and rollgate did not make it; using it is not allowed ` +
          `(allowed: ${list(p.externalVolumes)})`,
      ),
  },
];

/**
 * Compose keys that reach nothing of the host, each with the reason. Keys that keys.ts refuses
 * never reach the Engine and are not listed.
 */
export const HARMLESS_KEYS: Readonly<Record<'service' | 'network' | 'volume', Readonly<Record<string, string>>>> = {
  service: {
    attach: 'rollgate never attaches to a container',
    blkio_config: "a weight among containers' block I/O: a limit, never more than the host gives",
    build: 'a gateway pulls images; it never builds',
    cap_drop: 'takes capabilities away',
    command: 'runs inside the container',
    container_name: "a name; one that another owner's container holds is refused by the applier",
    cpu_period: 'a CPU limit',
    cpu_quota: 'a CPU limit',
    cpu_shares: 'a weight among containers',
    cpus: 'a CPU limit',
    cpuset: 'pins the container to some CPUs; it cannot get more',
    depends_on: 'order among the services of the app',
    deploy: 'limits, restart and update order (device requests are refused by the loader)',
    dns: "the container's resolver",
    dns_opt: "the container's resolver",
    dns_search: "the container's resolver",
    domainname: "the container's own UTS namespace (uts: host is its own row)",
    entrypoint: 'runs inside the container',
    env_file: 'files of the fleet repo, read while loading',
    environment: "the container's environment",
    expose: 'documents ports; publishes none',
    extra_hosts: "the container's /etc/hosts",
    group_add: 'groups inside the container; what they open on the host comes through binds and devices',
    healthcheck: 'runs inside the container',
    hostname: "the container's own UTS namespace (uts: host is its own row)",
    image: 'what runs inside the container (policy.registries and policy.digestsOnly narrow it; unset: any)',
    init: 'an init process inside the container',
    label_file: 'a file of the fleet repo, read while loading',
    labels: "metadata (rollgate's own io.rollgate.* labels are refused by the loader)",
    links: 'names among the services of the app',
    mem_limit: 'a memory limit',
    mem_reservation: 'a memory reservation within what the host has',
    mem_swappiness: "the container's swap preference",
    memswap_limit: 'a memory limit',
    pids_limit: 'a process limit',
    platform: 'which image variant is pulled',
    profiles: 'which services run',
    pull_policy: 'when the image is pulled',
    read_only: "makes the container's root file system read-only",
    restart: 'when the Engine restarts the container',
    scale: 'one container per service (other values are refused by the loader)',
    shm_size: "the container's own /dev/shm, counted in its memory",
    stdin_open: "the container's standard input",
    stop_grace_period: 'how long a stop waits',
    stop_signal: 'the signal a stop sends',
    storage_opt: "sizes the container's own writable layer",
    tmpfs: 'memory-backed mounts inside the container',
    tty: "the container's terminal",
    user: 'the user inside the container (userns_mode is its own row)',
    working_dir: 'a directory inside the container',
  },
  network: {
    internal: 'cuts the network off from the outside',
    attachable: 'lets containers outside the app join this network; it reaches nothing of the host',
    enable_ipv4: 'addressing inside the network',
    enable_ipv6: 'addressing inside the network',
    labels: 'metadata on the Engine object',
  },
  volume: {
    labels: 'metadata on the Engine object',
  },
};

/** What of a Compose app the policy does not allow; `only` picks rows (the apply-time check runs the atApply ones). */
export function composeBreaches(
  app: ComposeSubject,
  p: GatewayPolicy,
  only: (row: HostKey) => boolean = () => true,
): Breach[] {
  const out: Breach[] = [];
  const add = (base: (string | number)[], row: HostKey, fs: Finding[]) => {
    for (const f of fs) out.push({ rule: f.rule ?? row.rule, path: [...base, row.key, ...f.at], message: f.message });
  };
  for (const row of HOST_KEYS) {
    if (!only(row)) continue;
    if (row.scope === 'service') for (const s of app.services) add(['services', s.name], row, row.check(s, p));
    else if (row.scope === 'network') for (const n of app.networks) add(['networks', n.def.name], row, row.check(n, p));
    else for (const v of app.volumes) add(['volumes', v.def.name], row, row.check(v, p));
  }
  return out;
}

/** What an image reference breaks of policy.registries and policy.digestsOnly (unset: any image). */
export function imageBreaches(image: string, p: GatewayPolicy): { rule: PolicyRule; message: string }[] {
  const out: { rule: PolicyRule; message: string }[] = [];
  if (p.registries && !p.registries.includes(registryOf(image)))
    out.push({
      rule: 'policy.registries',
      message:
        `image ${image} comes from ${registryOf(image)}, and this gateway pulls only from ` + p.registries.join(', '),
    });
  if (p.digestsOnly && !/@sha256:[0-9a-f]{64}$/.test(image))
    out.push({
      rule: 'policy.digestsOnly',
      message: `image ${image} is not pinned by digest, and this gateway runs only image@sha256:… references`,
    });
  return out;
}

/** The PATH health commands are looked up on and run with, whatever the agent's environment says. */
export const SYSTEM_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * Why a health command's executable may never run, with or without a policy: a relative path, a
 * path through `..`, or a file under the state directory (where the fleet repo's files are
 * written) — the agent runs it as root. A bare name is looked up on SYSTEM_PATH when it runs.
 */
export function commandShape(exe: string, stateDir?: string): string | undefined {
  if (exe === '' || exe === '.' || exe === '..') return `${JSON.stringify(exe)} is not an executable`;
  if (!exe.includes('/')) return undefined;
  const h = hostPath(exe);
  if (typeof h === 'string')
    return `command ${h}: name an absolute path, or a program on the system PATH (${SYSTEM_PATH.join(':')})`;
  const dir = stateDir === undefined ? undefined : hostPath(stateDir);
  if (dir !== undefined && typeof dir !== 'string' && underAny(h.path, [dir.path]))
    return `command ${h.path} is in the state directory, where the fleet repo's files are; the agent never runs them`;
  return undefined;
}

/** Under a policy: whether policy.healthCommands names the executable (a name, or an absolute path, as written). */
export function commandBreach(argv: readonly string[], p: GatewayPolicy): string | undefined {
  const exe = argv[0] ?? '';
  const h = exe.includes('/') ? hostPath(exe) : { path: exe };
  const named = (p.healthCommands ?? []).some((c) => {
    const e = c.includes('/') ? hostPath(c) : { path: c };
    return typeof e !== 'string' && typeof h !== 'string' && e.path === h.path;
  });
  if (named) return undefined;
  return p.healthCommands?.length
    ? `command ${exe} is not allowed (policy.healthCommands: ${p.healthCommands.join(', ')})`
    : 'command checks are not allowed on this gateway (policy.healthCommands names none)';
}

/** nobody and nogroup (65534 on Debian, as on most Linux systems). */
export const UNPRIVILEGED = { uid: 65534, gid: 65534 } as const;

/**
 * Who a health command runs as. Its arguments are the fleet repo's, so a program the policy
 * allows reaches, as root, whatever its options reach (curl --unix-socket /var/run/docker.sock
 * makes a privileged container; -o writes any file): under a policy it runs as nobody, unless
 * policy.allowRootHealthCommands says root. Without a policy: as the agent (root).
 */
export function healthCommandUser(p: GatewayPolicy | undefined): typeof UNPRIVILEGED | undefined {
  return p && p.allowRootHealthCommands !== true ? UNPRIVILEGED : undefined;
}

/** Under a policy: whether policy.interfaces names the component's interface. */
export function interfaceBreach(c: Pick<DesiredComponent, 'interface'>, p: GatewayPolicy): string | undefined {
  if (p.interfaces?.includes(c.interface)) return undefined;
  return `interface ${c.interface} is not allowed (policy.interfaces: ${list(p.interfaces)})`;
}

/** A component id as Mender's 2024 manifests pass it to the interface: a plain name, never a path or an option. */
const PLAIN_ID = /^[A-Za-z0-9_][A-Za-z0-9._:-]*$/;

/**
 * Under a policy: what the fleet repo passes an interface on its command line. An interface runs as
 * root, and the repo writes its arguments (topology interface_args, a 2024 manifest's args and
 * component id), so an allowed interface that takes a directory would write wherever a commit says.
 * Each argument must be named in policy.interfaceArgs as `interface=argument`; a component id must
 * be a plain name. One message per argument that is not.
 */
export function interfaceArgsBreaches(
  c: Pick<DesiredComponent, 'interface' | 'interfaceArgs'> & { id?: string },
  p: GatewayPolicy,
): { on: 'id' | 'args'; message: string }[] {
  const out: { on: 'id' | 'args'; message: string }[] = [];
  if (c.id !== undefined && !PLAIN_ID.test(c.id))
    out.push({
      on: 'id',
      message:
        `component id "${c.id}" is passed to interface ${c.interface} as an argument and must be a plain name ` +
        '(letters, digits, . _ : -), not a path or an option',
    });
  const allowed = new Set(p.interfaceArgs ?? []);
  for (const arg of c.interfaceArgs)
    if (!allowed.has(`${c.interface}=${arg}`))
      out.push({
        on: 'args',
        message:
          `argument "${arg}" of interface ${c.interface} is not allowed: the interface runs as root, so the ` +
          `arguments a commit gives it must be named in policy.interfaceArgs (add "${c.interface}=${arg}")`,
      });
  return out;
}
