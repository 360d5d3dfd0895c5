// "Against another commit": the gateway as it would be after that commit was applied and
// healthy, so a diff between two commits is a plan between them.

import type { DesiredState, ObservedState } from '../model/index.js';

export function observedFromDesired(d: DesiredState, origin: string): ObservedState {
  return {
    schema: 'rollgate.observed/v1',
    origin,
    components: d.components.map((c) => ({
      key: c.key,
      type: c.type,
      version: c.version,
      ...(c.id !== undefined ? { id: c.id } : {}),
    })),
    containers: d.apps.flatMap((a) =>
      a.services.map((s) => ({
        app: a.name,
        service: s.name,
        containerId: `${a.name}-${s.name}-${s.configHash.slice(0, 12)}`,
        configHash: s.configHash,
        image: s.config.image,
        state: 'running' as const,
        ...(d.source.commit ? { commit: d.source.commit } : {}),
      })),
    ),
    networks: d.apps.flatMap((a) =>
      a.networks
        .filter((n) => !n.external)
        .map((n) => ({
          app: a.name,
          name: n.name,
          ...(n.engineName ? { engineName: n.engineName } : {}),
          ...(n.configHash ? { configHash: n.configHash } : {}),
        })),
    ),
    volumes: d.apps.flatMap((a) =>
      a.volumes
        .filter((v) => !v.external)
        .map((v) => ({
          app: a.name,
          name: v.name,
          ...(v.engineName ? { engineName: v.engineName } : {}),
          ...(v.configHash ? { configHash: v.configHash } : {}),
        })),
    ),
    images: [...new Set(d.apps.flatMap((a) => a.services.map((s) => s.config.image)))].sort(),
  };
}
