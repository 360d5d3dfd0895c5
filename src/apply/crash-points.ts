// Deterministic crash points for the kill tests: ROLLGATE_CRASH_AT=<kind>:<n> makes the process
// SIGKILL itself right after the n-th journal record of that kind is on disk, exactly like a
// power cut at that moment. Kinds: a step kind (`create`, `stop`, `start`, `pull`, ...), or
// `stages`, `finalize`, `undo` for the phases, or `reboot-gateway` just before the reboot
// command runs. Unset in production; costs one lookup per step.

const spec = process.env['ROLLGATE_CRASH_AT'];
const counts = new Map<string, number>();

export function crashPoint(kind: string): void {
  if (!spec) return;
  const n = (counts.get(kind) ?? 0) + 1;
  counts.set(kind, n);
  const [k, at] = spec.split(':');
  if (k === kind && Number(at ?? '1') === n) process.kill(process.pid, 'SIGKILL');
}
