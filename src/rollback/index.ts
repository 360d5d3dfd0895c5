export { badRecord, withBad, MAX_BAD_COMMITS, type BadCommit, type FailureKind } from './bad-commits.js';
export { rollBackToLastGood, type Convergence, type RollbackDeps, type RollbackReport } from './rollback.js';
