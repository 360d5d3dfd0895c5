// The rows of the services' keys that loosen a container's confinement or take from the host's
// resources: security options, sysctls, the OCI runtime and its annotations, the log driver, the
// OOM killer, real-time CPU and ulimits.

import type { ServiceConfig } from '../../model/index.js';
import { list, one, ownNamespace, plus, type HostKey } from './row.js';

/** `seccomp:unconfined` and `seccomp=unconfined` are the same option to the Engine. */
const normSecurityOpt = (o: string) => o.trim().replace(/^([^:=]+)[:=]/, '$1=');

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

function namespacedSysctl(name: string, c: ServiceConfig): boolean {
  if (!SYSCTL_NAME.test(name)) return false;
  if (name.startsWith('net.'))
    return c.networkMode === undefined || c.networkMode === 'bridge' || c.networkMode === 'none';
  if (IPC_SYSCTLS.has(name) || name.startsWith('fs.mqueue.'))
    return ownNamespace(c.ipc, ['private', 'shareable', 'none']);
  return false;
}

/** Ulimits that take from the host: real-time priority, locked memory, scheduling priority. */
const HOST_ULIMITS = new Set(['rtprio', 'memlock', 'nice']);

/** In the table's order (HOST_KEYS), after the namespace rows. */
export const SERVICE_CONFINEMENT_KEYS: readonly HostKey[] = [
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
];
