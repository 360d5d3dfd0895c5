export { loadDesiredState, readFleet, validateFleetRepo, type LoadOptions, type TargetValidation } from './load.js';
export { DirectorySource, GitObjectSource, RepoPathError, UndecryptableFileError, type RepoSource } from './source.js';
export { FleetRepoError, formatProblem, type Problem } from './problems.js';
export { Concealer } from './conceal.js';
export { FLEET_FILE, findTarget, targetMatches, type FleetDoc, type TargetMatch } from './fleet.js';
export { DEFAULT_GATE, MAX_GATE_DURATION_MS } from './rollout.js';
export { componentsNamed, matchesEvery, matchesSome } from './constraints.js';
export { parseEnvFile } from './compose/index.js';
export { artifactsToLock, type LockNeeds } from './artifact-lock.js';
export { ARTIFACT_LOCK_FILE } from './fleet.js';
export { readArtifactHeader } from './mender-artifact.js';
export { composeBreaches, imageBreaches, type Breach, type GatewayPolicy, type PolicyRule } from './policy.js';
export {
  HARMLESS_KEYS,
  HOST_KEYS,
  localVolumeKind,
  type ComposeSubject,
  type HostKey,
  type ServiceSubject,
} from './host-keys/index.js';
export { hostPath, underAny } from './host-path.js';
export { registryOf } from './image-ref.js';
export { commandBreach, commandShape, healthCommandUser, SYSTEM_PATH, UNPRIVILEGED } from './health-command-policy.js';
export { interfaceArgsBreaches, interfaceBreach } from './interface-policy.js';
export { windowOfTarget, resolveWindow, knownZone, WEEKDAYS, DEFAULT_EXPECTED_MS, type WindowDoc } from './window.js';
export { windowAt, nextStart, nextStartAll, openFor, openMsBetween, formatInZone } from './window-time.js';
