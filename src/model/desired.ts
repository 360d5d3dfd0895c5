// The desired state of one gateway, produced by src/manifest from a fleet repo and a device
// identity. Plain data only: it is serialised into plans, JSON output and test fixtures.

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
  | { kind: 'repo'; path: string; sha256?: string; size: number }
  | { kind: 'url'; url: string; sha256: string };

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
}

export type RestartPolicy = 'no' | 'always' | 'on-failure' | 'unless-stopped';
export type DependsCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface PortMapping {
  hostIp?: string;
  hostPort?: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

export interface VolumeMount {
  type: 'volume' | 'bind' | 'tmpfs';
  /** Volume name (unprefixed, as in the compose file) or host path for binds. */
  source?: string;
  target: string;
  readOnly: boolean;
}

export interface Healthcheck {
  test: string[];
  intervalMs?: number;
  timeoutMs?: number;
  retries?: number;
  startPeriodMs?: number;
  disable?: boolean;
}

/** A Compose service after validation and normalisation: what the Docker applier creates. */
export interface ServiceConfig {
  image: string;
  command?: string[];
  entrypoint?: string[];
  environment: Record<string, string>;
  ports: PortMapping[];
  volumes: VolumeMount[];
  /** Network names as in the compose file (unprefixed); empty with networkMode set. */
  networks: string[];
  networkMode?: string;
  restart: RestartPolicy;
  labels: Record<string, string>;
  healthcheck?: Healthcheck;
  dependsOn: Record<string, { condition: DependsCondition; required: boolean }>;
  stopGracePeriodMs?: number;
  stopSignal?: string;
  user?: string;
  workingDir?: string;
  hostname?: string;
  devices: string[];
  privileged: boolean;
  capAdd: string[];
  capDrop: string[];
  init: boolean;
  readOnly: boolean;
  tmpfs: string[];
  extraHosts: string[];
  logging?: { driver: string; options: Record<string, string> };
}

export interface DesiredService {
  name: string;
  config: ServiceConfig;
  /** sha256 of the canonical JSON of `config`; the label that makes observation bookkeeping-free. */
  configHash: string;
}

export type UpdateStrategy = 'new-before-old' | 'stop-first';

export interface DesiredApp {
  name: string;
  order: number;
  strategy: UpdateStrategy;
  /** Named volumes are kept on removal unless the app opts in. */
  pruneVolumes: boolean;
  services: DesiredService[];
  networks: { name: string; driver: string; internal: boolean }[];
  volumes: { name: string; driver: string }[];
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
  constraints: Constraints;
}
