export {
  operatorDecider,
  promoteDecider,
  startDecider,
  type OperatorAction,
  type PromoteRequest,
  type StartRequest,
} from './decide.js';
export { EvidenceError, evidenceJson, parseEvidence, type RolloutEvidenceJson } from './evidence.js';
export { openPromoterRepo, type PromoterRepo, type PromoterRepoSpec } from './repo.js';
export { commitMessage, readRolloutState, runStep, type BranchView, type StepResult, type StepRun } from './run.js';
export { readSigner, SigningKeyError, type CommitSigner } from './signer.js';
