// A container's task that outlived the Engine's record of it: an Engine killed while it started a
// container comes back saying the container is stopped, while containerd still runs its task (so
// it can never be started again: "task … already exists", "id already in use"). Before the
// container is made anew, the task's processes — found by the container's cgroup — are stopped,
// or the service would run twice, the old copy on a network address the Engine gives away again.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = '/sys/fs/cgroup';

/**
 * Where the processes of a container's cgroup are listed: cgroup v2 or v1, the cgroupfs or the
 * systemd driver. Undefined for an id or a cgroup parent that could name another place.
 */
export function cgroupProcFiles(id: string, cgroupParent = ''): string[] | undefined {
  if (!/^[0-9a-f]{64}$/.test(id)) return undefined;
  const parts = cgroupParent.split('/').filter(Boolean);
  if (parts.some((p) => p === '..' || p === '.' || !/^[A-Za-z0-9_.-]+$/.test(p))) return undefined;
  const parent = parts.length ? parts.join('/') : 'docker';
  return [
    `${ROOT}/${parent}/${id}/cgroup.procs`,
    `${ROOT}/system.slice/docker-${id}.scope/cgroup.procs`,
    `${ROOT}/pids/${parent}/${id}/cgroup.procs`,
    `${ROOT}/pids/system.slice/docker-${id}.scope/cgroup.procs`,
  ];
}

async function procs(file: string): Promise<number[]> {
  try {
    return (await readFile(file, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 1);
  } catch {
    return [];
  }
}

/**
 * Stops (SIGKILL) every process of the container's cgroup and waits, up to `waitMs`, for them to
 * be gone; resolves to the pids it stopped (none when the container has no live task).
 */
export async function stopOrphanedTask(id: string, cgroupParent?: string, waitMs = 5_000): Promise<number[]> {
  const file = cgroupProcFiles(id, cgroupParent)?.find((f) => existsSync(f));
  if (!file) return [];
  const killed = new Set<number>();
  const until = Date.now() + waitMs;
  for (;;) {
    const left = await procs(file);
    if (left.length === 0 || Date.now() > until) return [...killed];
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        /* gone already */
      }
    }
    await sleep(100);
  }
}
