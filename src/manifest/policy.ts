// The gateway's own policy: what its owner allows the fleet repo to ask for, whatever is
// committed. No policy at all allows everything (the default stays permissive). With a policy,
// anything that reaches the host is refused unless a rule allows it: every such Compose key is a
// row of HOST_KEYS (host-keys/), and the checks are those rows; health commands and update
// interfaces have rules of their own (health-command-policy.ts, interface-policy.ts). Checked
// while the commit loads, so a breach is a problem at the file:line that asked for it, naming the
// rule, and the commit is refused before anything runs (safety rule 9); the rows marked `atApply`
// run again in the Docker applier, right before a container is created, on what the paths resolve
// to on the gateway.

import { HOST_KEYS, type ComposeSubject, type Finding, type HostKey } from './host-keys/index.js';
import { registryOf, sameRegistry } from './image-ref.js';

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
  const registry = registryOf(image);
  if (p.registries && !p.registries.some((allowed) => sameRegistry(allowed, registry)))
    out.push({
      rule: 'policy.registries',
      message: `image ${image} comes from ${registry}, and this gateway pulls only from ` + p.registries.join(', '),
    });
  if (p.digestsOnly && !/@sha256:[0-9a-f]{64}$/.test(image))
    out.push({
      rule: 'policy.digestsOnly',
      message: `image ${image} is not pinned by digest, and this gateway runs only image@sha256:… references`,
    });
  return out;
}
