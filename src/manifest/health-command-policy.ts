// Which health `command` checks may run, and as whom: the executables a commit may name, with or
// without a policy, and the user they run as.

import type { GatewayPolicy } from './policy.js';
import { hostPath, underAny } from './host-path.js';

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
