export type { Applier, StepContext, StepRecord, StepStatus } from './applier.js';
export {
  applyPlan,
  resumeJournal,
  NoApplierError,
  TransactionSuspendedError,
  type ApplyOptions,
  type ApplyOutcome,
  type FailureHook,
  type ResumeOutcome,
  type StepHook,
} from './run-plan.js';
export { Journal, JournalError, type JournalData } from './journal.js';
export { observeGateway, refreshableImages, type GatewayAppliers } from './observe-gateway.js';
export { DockerApplier, type DockerApplierOptions } from './docker/applier.js';
export { Engine, socketFromHost, DEFAULT_DOCKER_SOCKET, type EngineOptions } from './docker/engine.js';
export { DockerError, type DockerErrorKind } from './docker/errors.js';
export { LABEL, containerName, networkName, volumeName } from './docker/labels.js';
export { containerSpec, hostPaths, type HostPaths } from './docker/container-spec.js';
export type { RegistryAuth, RegistryCredentials } from './docker/pull.js';
export {
  InterfaceApplier,
  DEFAULT_INTERFACE_DIRS,
  DEFAULT_TIMEOUTS,
  DEFAULT_CACHE_BYTES,
  DEFAULT_REBOOT_COMMAND,
  timeoutOf,
  type InterfaceApplierOptions,
  type InterfaceTimeouts,
} from './interface/applier.js';
export { InterfaceError } from './interface/invoke.js';
export {
  ProtocolError,
  interfaceArgv,
  isQuery,
  isState,
  QUERIES,
  STATES,
  type InterfaceTarget,
  type InterfaceState,
  type Query,
  type RebootNeed,
} from './interface/protocol.js';
export { ArtifactCache, DownloadError } from './interface/artifact-cache.js';
export {
  applierFor,
  RefusedError,
  UndoImpossibleError,
  interruptionOf,
  type Interruption,
  type OutageWatch,
} from './applier.js';
