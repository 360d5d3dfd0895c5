// The container probe's view of the Engine: rollgate's labels say which containers belong to
// which service, so no other bookkeeping is needed.

import type Docker from 'dockerode';
import { LABEL, type Engine } from '../apply/index.js';
import type { DesiredState } from '../model/index.js';
import type { ContainerStates } from './probes.js';

export function dockerContainerStates(engine: Engine): ContainerStates {
  return {
    async service(app, service) {
      const list = await engine.read<Docker.ContainerInfo[]>(
        '/containers/json',
        {
          all: '1',
          filters: JSON.stringify({ label: [`${LABEL.app}=${app}`, `${LABEL.service}=${service}`] }),
        },
        // A probe's answer is now: the health window, not the Engine's patience, decides how long.
        false,
      );
      return list.map((c) => {
        // "Up 3 seconds (healthy)"; the list API carries health only in the status text.
        const health = /\((healthy|unhealthy|health: starting)\)/.exec(c.Status)?.[1]?.replace('health: ', '');
        const hash = c.Labels[LABEL.configHash];
        return { running: c.State === 'running', ...(hash ? { configHash: hash } : {}), ...(health ? { health } : {}) };
      });
    },
  };
}

export function configHashesOf(desired: Pick<DesiredState, 'apps'>): Map<string, string> {
  return new Map(desired.apps.flatMap((a) => a.services.map((s) => [`${a.name}/${s.name}`, s.configHash] as const)));
}
