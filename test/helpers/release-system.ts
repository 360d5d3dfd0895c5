// A synthetic release update for the planner's bench and its work test: N apps × M services
// (each service depends_on the one before it), optional components over 10 order groups, and the
// gateway on the previous release, so every service and component changes.

import type { DesiredState, ObservedState } from '../../src/model/index.js';
import { app, comp, desired, running, svc } from './builders.js';

/** `upgrade`/`downgrade`: each type's new version is forbidden beside the type before it on its old one. */
export type Constrained = 'upgrade' | 'downgrade' | undefined;

export function releaseSystem(
  apps: number,
  servicesPerApp: number,
  components: number,
  constrained?: Constrained,
): { d: DesiredState; o: ObservedState } {
  const [from, to] = constrained === 'downgrade' ? ['v2', 'v1'] : ['v1', 'v2'];
  const comps = Array.from({ length: components }, (_, i) =>
    comp(`C${String(i).padStart(3, '0')}`, `type${i % 10}`, to, 1 + (i % 10) * 10),
  );
  const appList = Array.from({ length: apps }, (_, a) =>
    app(
      `app${a}`,
      100,
      Array.from({ length: servicesPerApp }, (_, s) =>
        svc(
          `s${s}`,
          `registry.local/app${a}/s${s}:2`,
          s > 0 ? { dependsOn: { [`s${s - 1}`]: { condition: 'service_started', required: true } } } : {},
        ),
      ),
    ),
  );
  const d = desired(comps, appList);
  if (constrained)
    d.constraints.forbidden = Array.from({ length: 9 }, (_, k) => ({
      name: `type${k + 1}-needs-type${k}`,
      versions: { [`type${k}`]: ['v1'], [`type${k + 1}`]: ['v2'] },
    }));
  // The gateway runs the previous release: every service on another image, every component on the other version.
  const o = running(d, (x) => {
    x.components.forEach((c) => (c.version = from));
    x.containers.forEach((c) => {
      c.configHash = 'f'.repeat(64);
      c.image = c.image.replace(/:2$/, ':1');
    });
    x.images = x.images.map((i) => i.replace(/:2$/, ':1'));
  });
  return { d, o };
}
