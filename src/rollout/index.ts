export { admit, type AdmissionInput } from './admission.js';
export { evaluateGate, type GateInput } from './gate.js';
export { bucketOf, exactThreshold, waveOf, waveThreshold } from './membership.js';
export {
  openedWaves,
  parseRolloutState,
  readRolloutState,
  ROLLOUT_FILE,
  stateAgainstPolicy,
  timeOf,
  trackName,
  trackOf,
  type ParsedRolloutState,
} from './state.js';
export {
  abortRollout,
  pauseRollout,
  resumeRollout,
  RolloutActionError,
  startRollout,
  type Actor,
  type StartInput,
} from './operate.js';
export { decidePromotion, type PromoteInput } from './promote.js';
export { judgeTracks, stepTime, tracksOf, type Track, type TrackGate } from './tracks.js';
export { renderRolloutState } from './write.js';
