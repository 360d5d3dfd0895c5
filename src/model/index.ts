export type * from './desired.js';
export type * from './observed.js';
export type * from './plan.js';
export { emptyObservedState } from './observed.js';
export { planHasChanges, PLAN_SHAPE, STEP_SHAPE } from './plan.js';
export { DESIRED_STATE_SHAPE } from './desired.js';
export type * from './status.js';
export type * from './report.js';
export { REPORT_SCHEMA, storable, unstorableChar } from './report.js';
export {
  AGENT_STATE_SHAPE,
  Reason,
  CONDITION_TYPES,
  VERDICT_CONDITIONS,
  emptyState,
  reconciling,
  withVerdict,
} from './status.js';
