// What the appliers observe on a gateway. Serialisable so it can be saved to a file and used
// for offline diffs; the planner treats it as read-only input.

import type { ServiceHook } from './desired.js';

export interface ObservedComponent {
  key: string;
  type: string;
  id?: string;
  /** The version the component `Provides`; absent when it could not be read. */
  version?: string;
  /** The interface's `Provides` and `Inventory` answers (repeated keys make lists). */
  provides?: Record<string, string[]>;
  inventory?: Record<string, string[]>;
}

export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'dead' | 'removing';

export interface ObservedContainer {
  app: string;
  service: string;
  containerId: string;
  configHash: string;
  image: string;
  state: ContainerState;
  health?: 'starting' | 'healthy' | 'unhealthy';
  /** The commit that created it, from its label. */
  commit?: string;
  /** Its `pre_stop` hooks, as it was created with them (from its label). */
  preStop?: ServiceHook[];
}

/** A network's settings as the Engine reports them: enough to make it again as it was. */
export interface EngineNetworkSpec {
  driver: string;
  internal: boolean;
  attachable: boolean;
  enableIpv6: boolean;
  options: Record<string, string>;
  labels: Record<string, string>;
  ipam: { driver: string; config: Record<string, unknown>[]; options: Record<string, string> };
}

export interface ObservedState {
  schema: 'rollgate.observed/v1';
  /** Free text saying where this came from: live, a file, a commit. */
  origin: string;
  components: ObservedComponent[];
  containers: ObservedContainer[];
  /** `engineName` when the Engine's name is not `<app>_<name>` (Compose `name:`). */
  networks: { app: string; name: string; engineName?: string; configHash?: string; spec?: EngineNetworkSpec }[];
  /**
   * `unlabelled`: a volume that existed without rollgate's labels (a `docker compose` left it),
   * adopted as it is: used, never recreated or removed.
   */
  volumes: { app: string; name: string; engineName?: string; configHash?: string; unlabelled?: true }[];
  /** Image references present on the gateway. */
  images: string[];
  /**
   * Images of services with `pull_policy: always` (or a period) whose tag names another digest in
   * the registry than the one on the gateway: their services are replaced, pulling first.
   */
  movedImages?: string[];
  /**
   * Images on the gateway that define no healthcheck, among those of services another service
   * waits for with `service_healthy` without a healthcheck in the Compose file.
   */
  imagesWithoutHealthcheck?: string[];
}

export function emptyObservedState(origin = 'fresh gateway'): ObservedState {
  return {
    schema: 'rollgate.observed/v1',
    origin,
    components: [],
    containers: [],
    networks: [],
    volumes: [],
    images: [],
  };
}
