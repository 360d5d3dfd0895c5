export { plan, serviceOrder } from './plan.js';
export { PlanError } from './errors.js';
export { observedFromDesired } from './observe-desired.js';
export { targetName } from './ids.js';
