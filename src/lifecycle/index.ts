export {
  badRecord,
  findBad,
  forgetBad,
  withBad,
  ForgetError,
  MAX_BAD_COMMITS,
  type ForgetRequest,
} from './bad-commits.js';
export { rollBackToLastGood, type Convergence, type RollbackDeps, type RollbackReport } from './to-last-good.js';
export {
  afterPoll,
  beginAttempt,
  decide,
  note,
  stalledOn,
  MAX_INTERRUPTED_ATTEMPTS,
  type Decision,
  type Next,
  type Outcome,
  type PollDecision,
  type RollbackSummary,
  type TransactionSummary,
  type Standing,
  type Verdict,
  withStanding,
} from './verdict.js';
export { CommitLifecycle, type Choice, type LifecycleMemory, type LoadedCommit } from './lifecycle.js';
export type { LifecyclePorts, LifecycleEvents, StatePort } from './ports.js';
export {
  GATES,
  CHOOSE_GATES,
  APPLY_GATES,
  judgeTrust,
  runGates,
  type Gate,
  type GateAnswer,
  type GatePorts,
  type TrustPorts,
} from './gates/index.js';
