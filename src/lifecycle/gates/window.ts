// The maintenance window gate: where a rule about *when* a gateway may change plugs in (issue 27).
// A commit that would change the gateway outside its window is to be deferred — `until` the window
// opens, the gateway keeping what it runs, nothing recorded as bad. No window is configured yet, so
// it admits every commit; it sits after the rollout gate (which decides what to run) and before the
// policy gate (which loads the commit: no need to, when it cannot run now).

import { ADMIT, type Gate } from './gate.js';

export const windowGate: Gate = {
  name: 'window',
  phase: 'apply',
  why: 'when the gateway may change; asked only when there is a change to make, before the commit is loaded',
  check: () => Promise.resolve(ADMIT),
};
