// Which Compose hooks each start and stop will run, so `rollgate diff` shows them where they run.

import type { DesiredState, ObservedState, ServiceHook, Step } from '../model/index.js';

const hookText = (k: string, h: ServiceHook) => `${k}: ${h.command.join(' ')}${h.user ? ` (as ${h.user})` : ''}`;

/** post_start hooks of the service a start starts; pre_stop hooks of the container a stop stops. */
export function annotateHooks(desired: DesiredState, observed: ObservedState, steps: Step[]): void {
  // Indexed once: a search per step made the planner quadratic in the number of services.
  const postStart = new Map<string, ServiceHook[]>();
  for (const a of desired.apps)
    for (const s of a.services)
      if (s.config.postStart?.length) postStart.set(`${a.name}\0${s.name}`, s.config.postStart);
  const preStop = new Map<string, ServiceHook[]>();
  for (const c of observed.containers)
    if (c.preStop?.length && !preStop.has(c.containerId)) preStop.set(c.containerId, c.preStop);
  for (const s of steps) {
    const hooks =
      s.kind === 'start'
        ? postStart.get(`${s.target.app}\0${s.target.service}`)?.map((h) => hookText('post_start', h))
        : s.kind === 'stop'
          ? preStop.get(s.containerId)?.map((h) => hookText('pre_stop', h))
          : undefined;
    if (hooks) s.hooks = hooks;
  }
}
