// Runs the steps of one phase as their dependencies allow, as concurrently as a limit allows:
// forwards, and — with the dependencies turned around — backwards when they are undone.

import type { Step } from '../model/index.js';

/**
 * Runs steps as their dependencies allow, at most `limit` at once. On the first failure no new
 * step starts; steps already running finish. Dependencies outside `steps` count as met.
 */
export async function runGraph(
  steps: Step[],
  limit: number,
  exec: (s: Step) => Promise<void>,
): Promise<{ step: Step; err: unknown } | undefined> {
  const ids = new Set(steps.map((s) => s.id));
  const done = new Set<string>();
  const pending = [...steps];
  let running = 0;
  let failure: { step: Step; err: unknown } | undefined;
  return new Promise((resolve) => {
    const pump = () => {
      if (failure || pending.length === 0) {
        if (running === 0) resolve(failure);
        return;
      }
      for (let i = 0; i < pending.length && running < limit;) {
        const s = pending[i];
        if (s === undefined) break;
        if (s.dependsOn.every((d) => done.has(d) || !ids.has(d))) {
          pending.splice(i, 1);
          running++;
          exec(s).then(
            () => {
              running--;
              done.add(s.id);
              pump();
            },
            (err: unknown) => {
              running--;
              failure ??= { step: s, err };
              pump();
            },
          );
        } else i++;
      }
      const stuck = pending[0];
      if (running === 0 && stuck !== undefined && !failure) {
        failure = {
          step: stuck,
          err: new Error(`steps wait on each other and cannot start: ${pending.map((p) => p.id).join(', ')}`),
        };
        resolve(failure);
      }
    };
    pump();
  });
}
