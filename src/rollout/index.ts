export { admit, type AdmissionInput } from './admission.js';
export { evaluateGate, type GateInput } from './gate.js';
export { bucketOf, exactThreshold, waveOf, waveThreshold } from './membership.js';
export {
  openedWaves,
  parseRolloutState,
  ROLLOUT_FILE,
  stateAgainstPolicy,
  timeOf,
  trackName,
  trackOf,
  type ParsedRolloutState,
} from './state.js';
