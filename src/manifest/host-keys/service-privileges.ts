// The rows of the services' keys that give a container privileges, devices and files of the host:
// privileged mode and hooks, capabilities, devices and device cgroup rules, bind mounts of volumes,
// configs and secrets, and the volumes of a container outside the app.

import { posix } from 'node:path';
import type { GatewayPolicy } from '../policy.js';
import { hostPath, underAny } from '../host-path.js';
import { bindFinding, list, one, type Finding, type HostKey, type ServiceSubject } from './row.js';

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

const normCap = (c: string) => c.toUpperCase().replace(/^CAP_/, '');
const normRule = (r: string) => r.trim().replace(/\s+/g, ' ');

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

/** In the table's order (HOST_KEYS): what a breach lists first comes first. */
export const SERVICE_PRIVILEGE_KEYS: readonly HostKey[] = [
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
];
