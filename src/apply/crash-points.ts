// Deterministic crash points for the kill tests: ROLLGATE_CRASH_AT=<kind>:<n> makes the process
// SIGKILL itself right after the n-th journal record of that kind is on disk, exactly like a
// power cut at that moment. Kinds: a step kind (`create`, `stop`, `start`, `pull`, ...), or
// `stages`, `finalize`, `undo` for the phases, `reboot-gateway` just before the reboot
// command runs, or `state-recorded` in the agent's worker (a verdict in the state, not yet in the
// outbox). Unset in production; costs one lookup per step.
//
// In the agent the steps run in its worker process, and what dies at the point is chosen with
// ROLLGATE_CRASH_KILLS: `both` (the default: the power cut, the agent and its worker at once),
// `worker` (the worker alone: its parent goes on and the next worker resumes the journal) or
// `parent` (the agent alone: the worker runs on, unsupervised, until the next agent's start kills
// it). A process that is no worker (`rollgate apply`) kills itself whatever it says.
// ROLLGATE_CRASH_ONCE=<file>: only the first process to reach the point dies (it makes the file),
// so a worker that resumes after the kill is not killed at the same point again.

import { existsSync, writeFileSync } from 'node:fs';

const spec = process.env['ROLLGATE_CRASH_AT'];
const counts = new Map<string, number>();

export function crashPoint(kind: string): void {
  if (!spec) return;
  const n = (counts.get(kind) ?? 0) + 1;
  counts.set(kind, n);
  const [k, at] = spec.split(':');
  if (k !== kind || Number(at ?? '1') !== n) return;
  const once = process.env['ROLLGATE_CRASH_ONCE'];
  if (once) {
    if (existsSync(once)) return;
    writeFileSync(once, `${process.pid}\n`);
  }
  const kills = process.env['ROLLGATE_CRASH_KILLS'] ?? 'both';
  // Forked with an IPC channel: the agent's worker, whose parent is the agent.
  const worker = typeof process.send === 'function';
  if (worker && kills !== 'worker') process.kill(process.ppid, 'SIGKILL');
  if (!worker || kills !== 'parent') process.kill(process.pid, 'SIGKILL');
}
