// What /proc says of a process: when it started (field 22 of /proc/<pid>/stat, clock ticks after
// boot: with the pid, unique until the next boot), its process group and whether it is a zombie.
// A pid alone names a process only until it is reused; rollgate never signals a process it found
// on record without first checking that the pid still is the one it recorded.

import { readdirSync, readFileSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  /** Field 5: the process group. */
  pgid: number;
  /** Field 3: R, S, D, Z (a zombie: ended, not yet reaped), ... */
  state: string;
  /** Field 22: the start time. */
  started: string;
}

function parseStat(pid: number, stat: string): ProcInfo | undefined {
  // The command name may hold spaces and parentheses; the fields follow the last ")".
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const pgid = Number(f[2]);
  if (!f[0] || !Number.isInteger(pgid) || f[19] === undefined) return undefined;
  return { pid, pgid, state: f[0], started: f[19] };
}

export function procInfo(pid: number): ProcInfo | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return parseStat(pid, readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The start time of a live process, or undefined when there is none of that pid. */
export function startTime(pid: number): string | undefined {
  return procInfo(pid)?.started;
}

/** Every process that still runs (zombies have ended: they are left out). */
export function allProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const p = procInfo(Number(n));
    if (p && p.state !== 'Z') out.push(p);
  }
  return out;
}

/** The processes of a process group that still run. */
export function groupMembers(pgid: number): ProcInfo[] {
  return allProcesses().filter((p) => p.pgid === pgid);
}

/** Whether the environment of `pid` holds `entry` (KEY=value); false when it cannot be read. */
export function environHas(pid: number, entry: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(entry);
  } catch {
    return false;
  }
}
