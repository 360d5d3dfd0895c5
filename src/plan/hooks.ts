// Which Compose hooks each start and stop will run, so `rollgate diff` shows them where they run.

import type { DesiredState, ObservedState, ServiceHook, Step } from '../model/index.js';

const hookText = (k: string, h: ServiceHook) => `${k}: ${h.command.join(' ')}${h.user ? ` (as ${h.user})` : ''}`;

/** post_start hooks of the service a start starts; pre_stop hooks of the container a stop stops. */
export function annotateHooks(desired: DesiredState, observed: ObservedState, steps: Step[]): void {
  for (const s of steps) {
    if (s.kind === 'start') {
      const t = s.target;
      const svc = desired.apps.find((a) => a.name === t.app)?.services.find((x) => x.name === t.service);
      const hooks = svc?.config.postStart ?? [];
      if (hooks.length) s.hooks = hooks.map((h) => hookText('post_start', h));
    } else if (s.kind === 'stop') {
      const hooks = observed.containers.find((c) => c.containerId === s.containerId)?.preStop ?? [];
      if (hooks.length) s.hooks = hooks.map((h) => hookText('pre_stop', h));
    }
  }
}
