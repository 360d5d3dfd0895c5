// The desired state of one gateway, produced by src/manifest from a fleet repo and a device
// identity. Plain data only: it is serialised into plans, JSON output and test fixtures.

import { fields, optional, type Shape } from '../base/shape.js';
import type { MaintenanceWindow } from './window.js';

export interface DeviceIdentity {
  id: string;
  labels: Record<string, string>;
}

/** Where the desired state was read from. */
export interface SourceRef {
  /** Commit id when read from git objects. */
  commit?: string;
  /** Directory when read from a working tree. */
  path?: string;
}

export type InterfaceProtocol = 'update_manifest' | 'manifest';

export type ArtifactSource =
  { kind: 'repo'; path: string; sha256?: string; size: number } | { kind: 'url'; url: string; sha256: string };

export interface DesiredComponent {
  /** Unique key inside the system: the component id (2024 form) or `<type>.<n>` (topology form). */
  key: string;
  type: string;
  /** Known up front in the 2024 form; the interface's `Identity` answers it in the topology form. */
  id?: string;
  interface: string;
  interfaceArgs: string[];
  protocol: InterfaceProtocol;
  /** The artifact name, which is the version a component `Provides` once installed. */
  version: string;
  artifact: ArtifactSource;
  order: number;
  /**
   * Device types its artifact may name (the component type, the system's types): checked at download for artifacts at
   * a URL.
   */
  compatible?: string[];
}

export type RestartPolicy = 'no' | 'always' | 'on-failure' | 'unless-stopped';
export type DependsCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface PortMapping {
  hostIp?: string;
  hostPort?: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

/**
 * A file or directory of the fleet repo that a service mounts (a relative bind mount, a config, a
 * secret): its content travels in the desired state and is written under the state directory,
 * content-addressed, before any container that mounts it is created.
 */
export interface FileTree {
  /** sha256 over kind, paths, modes and contents: equal trees share one copy on the gateway. */
  hash: string;
  kind: 'file' | 'dir';
  /** Secrets are written readable by root only on the host and are never printed. */
  secret?: boolean;
  /** For a file, one entry whose path is the file's name; for a directory, paths inside it. */
  entries: { path: string; mode: number; base64: string }[];
}

export type Propagation = 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';

export interface VolumeMount {
  type: 'volume' | 'bind' | 'tmpfs';
  /** Volume name (unprefixed, as in the compose file) or host path for binds. */
  source?: string;
  /** A bind of a file tree of the fleet repo (FileTree.hash), written under the state directory. */
  repo?: { hash: string; name?: string };
  /**
   * A bind of a relative path the fleet repo does not hold (a data directory such as
   * `./mosquitto/data`): a directory of the app under the state directory, kept across updates.
   */
  data?: string;
  target: string;
  readOnly: boolean;
  /** Bind propagation, when given. */
  propagation?: Propagation;
  /** Volume: do not copy the image's content into a new volume. */
  noCopy?: boolean;
  /** Volume: mount a sub-path of the volume. */
  subpath?: string;
  /** tmpfs size in bytes and mode, when given. */
  tmpfsSize?: number;
  tmpfsMode?: number;
  /** Bind: SELinux relabel, shared (`z`) or private (`Z`), as `docker compose` passes it. */
  selinux?: 'z' | 'Z';
}

export interface Healthcheck {
  test: string[];
  intervalMs?: number;
  timeoutMs?: number;
  retries?: number;
  startPeriodMs?: number;
  startIntervalMs?: number;
  disable?: boolean;
}

/** A network endpoint's settings beyond the service-name alias. */
export interface NetworkEndpoint {
  aliases?: string[];
  ipv4Address?: string;
  ipv6Address?: string;
  linkLocalIps?: string[];
  macAddress?: string;
  priority?: number;
}

/** Resource limits a small gateway needs most: mem_limit, cpus, pids_limit, deploy.resources. */
export interface Resources {
  memoryBytes?: number;
  memoryReservationBytes?: number;
  memorySwapBytes?: number;
  memSwappiness?: number;
  nanoCpus?: number;
  cpuShares?: number;
  cpuPeriod?: number;
  cpuQuota?: number;
  cpuRtPeriod?: number;
  cpuRtRuntime?: number;
  cpusetCpus?: string;
  pidsLimit?: number;
  oomKillDisable?: boolean;
  oomScoreAdj?: number;
  blkioWeight?: number;
}

/**
 * A Compose service after interpolation, validation and normalisation: what the Docker applier
 * creates. Keys added after the first release are optional and left out when unset, so a service
 * that does not use them keeps its configuration hash (and its container) across an upgrade.
 */
/** The states state scripts run at: Mender's, and rollgate's own where Mender has none. */
export type ScriptState =
  | 'Download'
  | 'ArtifactInstall'
  | 'ArtifactReboot'
  | 'ArtifactCommit'
  | 'ArtifactRollback'
  | 'ArtifactFailure'
  | 'Health'
  | 'Apps';

export type ScriptAction = 'Enter' | 'Leave' | 'Error';

/** One Mender state script from the fleet repo: `ArtifactInstall_Enter_00_stop-logger`. */
export interface StateScript {
  name: string;
  state: ScriptState;
  action: ScriptAction;
  /** Its content, base64 (scripts are small: the loader bounds them). */
  base64: string;
  /** sha256 of the content: where it is written, and what changes the plan's identity. */
  sha256: string;
}

/** A Compose lifecycle hook (`post_start`, `pre_stop`): a command run inside the container. */
export interface ServiceHook {
  command: string[];
  user?: string;
  privileged?: boolean;
  workingDir?: string;
  environment?: Record<string, string>;
}

export interface ServiceConfig {
  image: string;
  command?: string[];
  entrypoint?: string[];
  environment: Record<string, string>;
  /**
   * Names listed in `environment:` without a value that the gateway does not set: sent bare, as
   * Compose sends them, so the Engine drops the image's default for them.
   */
  environmentUnset?: string[];
  ports: PortMapping[];
  volumes: VolumeMount[];
  /** Network names as in the compose file (unprefixed); empty with networkMode set. */
  networks: string[];
  networkMode?: string;
  restart: RestartPolicy;
  /** `on-failure:5`, `deploy.restart_policy.max_attempts`. */
  restartMaxRetries?: number;
  labels: Record<string, string>;
  healthcheck?: Healthcheck;
  dependsOn: Record<string, { condition: DependsCondition; required: boolean; restart?: boolean }>;
  stopGracePeriodMs?: number;
  /** Run in the new container once it started; a failure fails the start and rolls back. */
  postStart?: ServiceHook[];
  /** Run in the container before it stops (bounded; a failure is logged and the stop goes on). */
  preStop?: ServiceHook[];
  stopSignal?: string;
  user?: string;
  workingDir?: string;
  hostname?: string;
  devices: string[];
  privileged: boolean;
  capAdd: string[];
  capDrop: string[];
  /** `init: true`. */
  init: boolean;
  /**
   * `init: false` written in the file: sent as such, which overrides an Engine configured with
   * `"init": true`. Unset, the Engine's own default applies, as with Compose. (A flag beside `init`
   * rather than an optional `init`, so services that do not set it keep their configuration hash.)
   */
  initDisabled?: true;
  readOnly: boolean;
  tmpfs: string[];
  extraHosts: string[];
  logging?: { driver: string; options: Record<string, string> };
  /** Compose's container_name: the name the container has once it runs. */
  containerName?: string;
  /**
   * Engine names of networks and volumes that are not `<app>_<key>` (top-level `name:`, `networks.x.name`,
   * `external`).
   */
  engineNames?: { networks?: Record<string, string>; volumes?: Record<string, string> };
  networkEndpoints?: Record<string, NetworkEndpoint>;
  expose?: string[];
  tty?: boolean;
  stdinOpen?: boolean;
  shmSizeBytes?: number;
  sysctls?: Record<string, string>;
  securityOpt?: string[];
  runtime?: string;
  platform?: string;
  resources?: Resources;
  ulimits?: Record<string, { soft: number; hard: number }>;
  dns?: string[];
  dnsSearch?: string[];
  dnsOpt?: string[];
  domainname?: string;
  pid?: string;
  ipc?: string;
  uts?: string;
  usernsMode?: string;
  cgroup?: string;
  cgroupParent?: string;
  groupAdd?: string[];
  deviceCgroupRules?: string[];
  macAddress?: string;
  storageOpt?: Record<string, string>;
  annotations?: Record<string, string>;
  volumesFrom?: string[];
  /**
   * `links:` as the Engine takes them, `service:alias`: the alias is resolved to the linked service's
   * name on the networks the two share, so it follows the service across its updates.
   */
  links?: string[];
  /** Hashes of the file trees this service mounts: a changed file replaces exactly its services. */
  files?: string[];
}

export type PullPolicy = 'missing' | 'always' | 'never' | 'build' | { everyMs: number };

export interface DesiredService {
  name: string;
  config: ServiceConfig;
  /** sha256 of the canonical JSON of `config`; the label that makes observation bookkeeping-free. */
  configHash: string;
  /** deploy.update_config.order: start-first starts the new container before the old one stops. */
  updateOrder?: 'start-first' | 'stop-first';
  pullPolicy?: PullPolicy;
}

export type UpdateStrategy = 'new-before-old' | 'stop-first';

export interface DesiredNetwork {
  name: string;
  driver: string;
  internal: boolean;
  /** sha256 of its definition; the Engine object carries it, so a changed definition is seen. */
  configHash?: string;
  /** The Engine's name when it is not `<app>_<name>`. */
  engineName?: string;
  /** Made outside rollgate: never created nor removed, must exist. */
  external?: boolean;
  attachable?: boolean;
  enableIpv6?: boolean;
  enableIpv4?: boolean;
  driverOpts?: Record<string, string>;
  labels?: Record<string, string>;
  ipam?: {
    driver?: string;
    config: { subnet?: string; ipRange?: string; gateway?: string; auxAddresses?: Record<string, string> }[];
    options?: Record<string, string>;
  };
}

export interface DesiredVolume {
  name: string;
  driver: string;
  /** sha256 of driver, options and name; a changed one is refused, never applied silently. */
  configHash?: string;
  engineName?: string;
  external?: boolean;
  driverOpts?: Record<string, string>;
  labels?: Record<string, string>;
}

export interface DesiredApp {
  name: string;
  order: number;
  strategy: UpdateStrategy;
  /** Named volumes are kept on removal unless the app opts in. */
  pruneVolumes: boolean;
  services: DesiredService[];
  networks: DesiredNetwork[];
  volumes: DesiredVolume[];
  /** File trees of the fleet repo that services mount, by hash. */
  files?: FileTree[];
  /** Files of the gateway that are mounted as secrets (`secrets: { x: { file: /etc/... } }`). */
  hostSecretFiles?: string[];
  /**
   * The app's own maintenance window (`x-rollgate.window`): a commit that changes the app waits for
   * it too, with the target's (README "Maintenance windows").
   */
  window?: MaintenanceWindow;
}

export type DurationMs = number;

interface CheckBase {
  name: string;
  required: boolean;
  intervalMs: DurationMs;
  failureThreshold: number;
  timeoutMs: DurationMs;
}

export type HealthCheck =
  | (CheckBase & { kind: 'http'; url: string; expectStatus: number[] })
  | (CheckBase & { kind: 'tcp'; host: string; port: number })
  | (CheckBase & { kind: 'command'; argv: string[] })
  | (CheckBase & { kind: 'container'; app: string; service: string; condition: 'running' | 'healthy' });

export interface HealthSpec {
  /** How long the checks must hold after an apply before the change is committed. */
  windowMs: DurationMs;
  /** A window that has not passed by then is a failure, never a hang. */
  deadlineMs: DurationMs;
  checks: HealthCheck[];
}

/** A partial assignment of versions to component types; a list means any of them. */
export type VersionPattern = Record<string, string[]>;

export interface Constraints {
  /** When non-empty, the end state must match one of these. */
  endStates: { name: string; versions: VersionPattern }[];
  /** Component types that must finish updating before others start. */
  order: { name: string; before: string; after: string }[];
  /** No state on the way (nor at the end) may match one of these. */
  forbidden: { name: string; versions: VersionPattern }[];
  /** When non-empty, every state on the way must match one of these or an end state. */
  allowedTransitions: { name: string; versions: VersionPattern }[];
}

export interface DesiredState {
  schema: 'rollgate.desired/v1';
  source: SourceRef;
  device: DeviceIdentity;
  target: string;
  system: string;
  components: DesiredComponent[];
  apps: DesiredApp[];
  health: HealthSpec;
  /** Mender state scripts of the system, in name order. */
  stateScripts?: StateScript[];
  constraints: Constraints;
  /** What loaded but deserves a look, e.g. a Compose variable that was not set (as Compose warns). */
  warnings?: string[];
  /**
   * Strings of Compose files that interpolation made from the gateway's own variables, each with
   * the file's text for it: output shows the text (`${TAG}`), never what the variables hold.
   */
  gatewayInterpolations?: GatewayInterpolation[];
}

export interface GatewayInterpolation {
  /** As the file wrote it, e.g. `registry.example.com/app:${TAG}`. */
  written: string;
  /** What it became. */
  value: string;
}

/**
 * The desired state as a journal keeps it beside a transaction (src/base/shape.ts): the fields
 * resuming reads before it hands the rest to the appliers.
 */
export const DESIRED_STATE_SHAPE: Shape = fields<DesiredState>({
  schema: { literal: 'rollgate.desired/v1' },
  source: fields<SourceRef>({ commit: optional('string'), path: optional('string') }),
  device: fields<DeviceIdentity>({ id: 'string', labels: { map: 'string' } }),
  target: 'string',
  system: 'string',
  components: { list: { fields: { key: 'string', type: 'string', interface: 'string' } } },
  apps: { list: { fields: { name: 'string', services: { list: { fields: { name: 'string' } } } } } },
  health: { fields: { checks: { list: 'unknown' } } },
  stateScripts: optional({ list: { fields: { name: 'string', state: 'string', action: 'string' } } }),
  constraints: 'unknown',
  warnings: optional({ list: 'string' }),
  gatewayInterpolations: optional({ list: { fields: { written: 'string', value: 'string' } } }),
});
