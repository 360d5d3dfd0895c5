export type * from './desired.js';
export type * from './observed.js';
export type * from './plan.js';
export { emptyObservedState } from './observed.js';
export { isComponentStep, isContainerStep, planHasChanges, PLAN_SHAPE, STEP_SHAPE } from './plan.js';
export { DESIRED_STATE_SHAPE } from './desired.js';
export type * from './status.js';
export type * from './report.js';
export { REPORT_SCHEMA, storable, unstorableChar } from './report.js';
export { AGENT_STATE_SHAPE, Reason, CONDITION_TYPES, emptyState, reconciling, withVerdict } from './status.js';
export type * from './verdicts.js';
export {
  COMMIT_OUTCOMES,
  RECONCILE_RESULTS,
  VERDICT_CONDITIONS,
  VERDICT_REASONS,
  VERDICTS,
  verdictFacts,
  verdictsWhere,
} from './verdicts.js';
export type * from './window.js';
export { afterPoll, choiceKey, stalledOn, type PollDecision } from './poll-decision.js';
