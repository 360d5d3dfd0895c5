export type * from './desired.js';
export type * from './observed.js';
export type * from './plan.js';
export { emptyObservedState } from './observed.js';
export { planHasChanges } from './plan.js';
export type * from './status.js';
export type * from './report.js';
export { REPORT_SCHEMA, storable, unstorableChar } from './report.js';
export { Reason, CONDITION_TYPES, VERDICT_CONDITIONS, emptyState, reconciling, withVerdict } from './status.js';
