export { loadDesiredState, readFleet, validateFleetRepo, type LoadOptions, type TargetValidation } from './load.js';
export { DirectorySource, GitObjectSource, RepoPathError, type RepoSource } from './source.js';
export { FleetRepoError, formatProblem, type Problem } from './problems.js';
export { Concealer } from './conceal.js';
export { FLEET_FILE, findTarget, targetMatches, type FleetDoc, type TargetMatch } from './fleet.js';
export { DEFAULT_GATE, MAX_GATE_DURATION_MS } from './rollout.js';
export { componentsNamed, matchesEvery, matchesSome } from './constraints.js';
export { parseEnvFile } from './compose/index.js';
export { artifactsToLock, type LockNeeds } from './artifact-lock.js';
export { ARTIFACT_LOCK_FILE } from './fleet.js';
export { readArtifactHeader } from './mender-artifact.js';
export {
  commandBreach,
  commandShape,
  composeBreaches,
  HARMLESS_KEYS,
  healthCommandUser,
  HOST_KEYS,
  hostPath,
  imageBreaches,
  interfaceArgsBreaches,
  interfaceBreach,
  localVolumeKind,
  registryOf,
  SYSTEM_PATH,
  underAny,
  UNPRIVILEGED,
  type Breach,
  type ComposeSubject,
  type GatewayPolicy,
  type HostKey,
  type PolicyRule,
  type ServiceSubject,
} from './policy.js';
