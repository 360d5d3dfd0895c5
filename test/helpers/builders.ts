// Plain-data builders for planner tests: the planner is pure, so no I/O is needed.

import { configHash } from '../../src/manifest/compose/index.js';
import type {
  DesiredApp,
  DesiredComponent,
  DesiredService,
  DesiredState,
  ObservedContainer,
  ObservedState,
  ServiceConfig,
} from '../../src/model/index.js';
import { emptyObservedState } from '../../src/model/index.js';

export function comp(key: string, type: string, version: string, order: number): DesiredComponent {
  return {
    key,
    type,
    id: key,
    interface: type,
    interfaceArgs: [],
    protocol: 'update_manifest',
    version,
    artifact: { kind: 'repo', path: `artifacts/${version}.mender`, size: 1 },
    order,
  };
}

export function svc(name: string, image: string, extra: Partial<ServiceConfig> = {}): DesiredService {
  const config: ServiceConfig = {
    image,
    environment: {},
    ports: [],
    volumes: [],
    networks: ['default'],
    restart: 'no',
    labels: {},
    dependsOn: {},
    devices: [],
    privileged: false,
    capAdd: [],
    capDrop: [],
    init: true,
    readOnly: false,
    tmpfs: [],
    extraHosts: [],
    ...extra,
  };
  return { name, config, configHash: configHash(config) };
}

export function app(
  name: string,
  order: number,
  services: DesiredService[],
  extra: Partial<DesiredApp> = {},
): DesiredApp {
  return {
    name,
    order,
    strategy: 'new-before-old',
    pruneVolumes: false,
    services,
    networks: [{ name: 'default', driver: 'bridge', internal: false }],
    volumes: [],
    ...extra,
  };
}

export function desired(
  components: DesiredComponent[],
  apps: DesiredApp[],
  constraints: Partial<DesiredState['constraints']> = {},
): DesiredState {
  return {
    schema: 'rollgate.desired/v1',
    source: { commit: 'c'.repeat(40) },
    device: { id: 'gw', labels: {} },
    target: 't',
    system: 's',
    components,
    apps,
    health: { windowMs: 1000, deadlineMs: 2000, checks: [] },
    constraints: { endStates: [], order: [], forbidden: [], allowedTransitions: [], ...constraints },
  };
}

/** The gateway as if it ran these apps and components, every container running. */
export function running(d: DesiredState, tweak: (o: ObservedState) => void = () => {}): ObservedState {
  const o = emptyObservedState('test');
  o.components = d.components.map((c) => ({ key: c.key, type: c.type, version: c.version }));
  o.containers = d.apps.flatMap((a) =>
    a.services.map((s): ObservedContainer => ({
      app: a.name,
      service: s.name,
      containerId: `${a.name}-${s.name}-old`,
      configHash: s.configHash,
      image: s.config.image,
      state: 'running',
    })),
  );
  o.networks = d.apps.flatMap((a) => a.networks.map((n) => ({ app: a.name, name: n.name })));
  o.volumes = d.apps.flatMap((a) => a.volumes.map((v) => ({ app: a.name, name: v.name })));
  o.images = [...new Set(d.apps.flatMap((a) => a.services.map((s) => s.config.image)))];
  tweak(o);
  return o;
}
