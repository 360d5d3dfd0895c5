// The admission gates, in the order a commit meets them. Each is one file; test/lifecycle/gates/
// holds each one's table, and a test of this list (the order, the phases).

import { descentGate } from './descent.js';
import type { Gate } from './gate.js';
import { policyGate } from './policy.js';
import { rolloutGate } from './rollout.js';
import { trustGate } from './trust.js';
import { windowGate } from './window.js';

/** Every `choose` gate comes before every `apply` gate. */
export const GATES: readonly Gate[] = [trustGate, descentGate, rolloutGate, windowGate, policyGate];

export const CHOOSE_GATES = GATES.filter((g) => g.phase === 'choose');
export const APPLY_GATES = GATES.filter((g) => g.phase === 'apply');

export {
  ADMIT,
  runGates,
  type Gate,
  type GateAnswer,
  type GateOutcome,
  type GatePhase,
  type GatePorts,
  type LoadedCommit,
  type Refusal,
  type Subject,
} from './gate.js';
export { standingOf } from './rollout.js';
export { REVERT_LOOKBACK } from './window.js';
export { judgeTrust, type TrustPorts } from './trust.js';
