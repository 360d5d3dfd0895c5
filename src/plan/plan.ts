// The planner: DesiredState x ObservedState -> Plan. Pure and deterministic (same inputs, same
// plan, byte for byte) and linear in the number of components, services and containers. Each
// resource is planned by its own module; this one puts them in their phases and stages.

import type {
  DesiredApp,
  DesiredComponent,
  DesiredState,
  ObservedContainer,
  ObservedState,
  Plan,
  Stage,
  Step,
} from '../model/index.js';
import { checkOrderRules, layerGroup, TransitionCheck } from './transitions.js';
import { chooseOrder, type Unit } from './order.js';
import { byString, push, Builder, type AppSteps } from './builder.js';
import { planCleanups, planCommits, planComponents } from './components.js';
import { annotateHooks } from './hooks.js';
import { changedNetworks, planNewNetworks, planRecreatedNetworks, planRemovedNetworks } from './networks.js';
import { planRemovedApps } from './removed-apps.js';
import { checkHealthyWaits, planServices } from './services.js';
import { checkVolumeDefinitions, planNewVolumes, planRemovedVolumes } from './volumes.js';

export { serviceOrder } from './services.js';

/** One app's steps: its networks and volumes first, then its services; what it no longer declares in finalize. */
function planApp(b: Builder, app: DesiredApp, containers: ObservedContainer[], unchangedServices: string[]): void {
  checkHealthyWaits(b, app);
  const recreated = changedNetworks(b, app);
  checkVolumeDefinitions(b, app);
  const a: AppSteps = {
    app,
    steps: [],
    fin: [],
    recreated,
    recreateIds: [],
    stopsBeforeRecreate: [],
    infra: [],
  };
  planRecreatedNetworks(b, a);
  planNewNetworks(b, a);
  planNewVolumes(b, a);
  planServices(b, a, containers, unchangedServices);
  const removals = a.fin.map((s) => s.id);
  planRemovedNetworks(b, a, removals);
  planRemovedVolumes(b, a, removals);
  if (a.steps.length > 0) b.appSteps.set(app.name, a.steps);
  if (a.fin.length > 0) b.appFinalize.set(app.name, a.fin);
}

export function plan(desired: DesiredState, observed: ObservedState): Plan {
  const b = new Builder(observed);
  const obsComp = new Map(observed.components.map((c) => [c.key, c]));
  const changing: DesiredComponent[] = [];
  const unchangedComponents: string[] = [];
  for (const c of desired.components) {
    const o = obsComp.get(c.key);
    if (o?.version === c.version) unchangedComponents.push(c.key);
    else changing.push(c);
  }
  checkOrderRules(changing, desired.constraints);

  const unchangedServices: string[] = [];
  const containersByApp = new Map<string, ObservedContainer[]>();
  for (const c of observed.containers) push(containersByApp, c.app, c);
  for (const app of desired.apps) planApp(b, app, containersByApp.get(app.name) ?? [], unchangedServices);

  // Units of work per order group; a group split by order rules keeps its apps in the last layer.
  const groups = new Map<number, { components: DesiredComponent[]; apps: string[] }>();
  const group = (order: number) => {
    const g = groups.get(order) ?? { components: [], apps: [] };
    groups.set(order, g);
    return g;
  };
  for (const c of changing) group(c.order).components.push(c);
  for (const app of desired.apps) if (b.appSteps.has(app.name)) group(app.order).apps.push(app.name);
  const declared: Unit[] = [];
  for (const [order, g] of [...groups.entries()].sort((x, y) => x[0] - y[0])) {
    const layers = layerGroup(g.components, desired.constraints);
    layers.forEach((layer, i) =>
      declared.push({
        name: layers.length > 1 ? `group ${order}.${i + 1}` : `group ${order}`,
        order,
        components: layer,
        apps: i === layers.length - 1 ? g.apps : [],
      }),
    );
  }
  const start = new Map(desired.components.map((c) => [c.key, obsComp.get(c.key)?.version]));
  const chosen = chooseOrder(declared, new TransitionCheck(desired.components, desired.constraints), start);

  const stages: Stage[] = [];
  const componentStages: DesiredComponent[][] = [];
  for (const u of chosen.units) {
    const steps: Step[] = [];
    planComponents(b, u.components, obsComp, steps);
    for (const a of u.apps) steps.push(...(b.appSteps.get(a) ?? []));
    if (u.components.length > 0) componentStages.push(u.components);
    stages.push({ name: u.name, order: u.order, steps });
  }

  const removedAppSteps = planRemovedApps(b, new Set(desired.apps.map((a) => a.name)));
  if (removedAppSteps.length > 0) stages.push({ name: 'remove', order: null, steps: removedAppSteps });

  planCommits(b, componentStages);
  for (const app of desired.apps) b.finalize.push(...(b.appFinalize.get(app.name) ?? []));
  planCleanups(b, componentStages);

  annotateHooks(desired, observed, [...stages.flatMap((s) => s.steps), ...b.finalize]);
  return {
    schema: 'rollgate.plan/v1',
    desired: { source: desired.source, device: desired.device, target: desired.target, system: desired.system },
    against: observed.origin,
    changes: b.changes,
    prepare: b.prepare,
    stages,
    finalize: b.finalize,
    rollback: stages.map((s) => s.name).reverse(),
    ...(chosen.order ? { order: chosen.order } : {}),
    ...(desired.stateScripts?.length
      ? { stateScripts: desired.stateScripts.map((s) => ({ state: s.state, action: s.action, name: s.name })) }
      : {}),
    unchanged: { components: unchangedComponents, services: unchangedServices.sort(byString) },
  };
}
