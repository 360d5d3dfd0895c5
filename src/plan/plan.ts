// The planner: DesiredState x ObservedState -> Plan. Pure and deterministic (same inputs, same
// plan, byte for byte) and linear in the number of components, services and containers.

import type {
  ServiceHook,
  Change,
  DesiredApp,
  DesiredComponent,
  DesiredService,
  DesiredState,
  ObservedContainer,
  ObservedState,
  Plan,
  Stage,
  Step,
  StepTarget,
} from '../model/index.js';
import { checkOrderRules, layerGroup, TransitionCheck } from './transitions.js';
import { chooseOrder, type Unit } from './order.js';
import { stepId } from './ids.js';
import { PlanError } from './errors.js';

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Services of an app in dependency order (dependencies first), ties by name. */
export function serviceOrder(app: DesiredApp): DesiredService[] {
  const byName = new Map(app.services.map((s) => [s.name, s]));
  const done = new Set<string>();
  const out: DesiredService[] = [];
  const visit = (s: DesiredService, guard: Set<string>) => {
    if (done.has(s.name) || guard.has(s.name)) return;
    guard.add(s.name);
    for (const d of Object.keys(s.config.dependsOn).sort(byString)) {
      const dep = byName.get(d);
      if (dep) visit(dep, guard);
    }
    done.add(s.name);
    out.push(s);
  };
  for (const s of [...app.services].sort((a, b) => byString(a.name, b.name))) visit(s, new Set());
  return out;
}

function group(m: Map<string, Set<string>>, key: string): Set<string> {
  let s = m.get(key);
  if (!s) m.set(key, (s = new Set()));
  return s;
}

function push<K, V>(m: Map<K, V[]>, key: K, v: V): void {
  const list = m.get(key);
  if (list) list.push(v);
  else m.set(key, [v]);
}

class Builder {
  readonly prepare: Step[] = [];
  readonly finalize: Step[] = [];
  readonly changes: Change[] = [];
  private readonly pulled = new Set<string>();
  /** Steps per app, built before stages are known. */
  readonly appSteps = new Map<string, Step[]>();
  readonly appFinalize = new Map<string, Step[]>();

  /** Indexes built once, so planning stays linear in the size of the gateway. */
  readonly images: Set<string>;
  readonly networksByApp = new Map<string, Set<string>>();
  readonly volumesByApp = new Map<string, Set<string>>();
  readonly engineNames = new Map<string, string>();
  readonly moved: Set<string>;
  private readonly written = new Set<string>();

  constructor(readonly observed: ObservedState) {
    this.images = new Set(observed.images);
    this.moved = new Set(observed.movedImages ?? []);
    for (const n of observed.networks) {
      group(this.networksByApp, n.app).add(n.name);
      if (n.engineName) this.engineNames.set(`network/${n.app}/${n.name}`, n.engineName);
    }
    for (const v of observed.volumes) {
      group(this.volumesByApp, v.app).add(v.name);
      if (v.engineName) this.engineNames.set(`volume/${v.app}/${v.name}`, v.engineName);
    }
  }

  /** Pulls go first (safety rule 1); `pull_policy: always` (or a period) pulls even a present image. */
  pull(svc: DesiredService): void {
    const image = svc.config.image;
    const policy = svc.pullPolicy ?? 'missing';
    if (policy === 'never' || (policy === 'missing' && this.images.has(image))) return;
    const target: StepTarget = { kind: 'image', ref: image };
    const id = stepId('pull', target);
    if (!this.pulled.has(image)) {
      this.pulled.add(image);
      this.prepare.push({
        id,
        kind: 'pull',
        target,
        dependsOn: [],
        image,
        ...(svc.config.platform ? { platform: svc.config.platform } : {}),
      });
    }
  }

  /** Repo files a new container mounts are written before anything running is touched. */
  writeFiles(app: DesiredApp, svc: DesiredService): void {
    for (const hash of svc.config.files ?? []) {
      const target: StepTarget = { kind: 'files', app: app.name, hash };
      const id = stepId('write-files', target);
      if (this.written.has(id)) continue;
      this.written.add(id);
      const tree = app.files?.find((t) => t.hash === hash);
      this.prepare.push({
        id,
        kind: 'write-files',
        target,
        dependsOn: [],
        to: `${tree?.entries.length ?? 0} file${tree?.entries.length === 1 ? '' : 's'}`,
      });
    }
  }
}

/** start-first needs the old container's host ports free while both run: without host ports only. */
function updateOrder(app: DesiredApp, svc: DesiredService): 'start-first' | 'stop-first' | 'new-before-old' {
  if (svc.updateOrder === 'stop-first') return 'stop-first';
  if (
    svc.updateOrder === 'start-first' &&
    !svc.config.ports.some((p) => p.hostPort !== undefined) &&
    !svc.config.networkMode
  )
    return 'start-first';
  return app.strategy;
}

/**
 * Networks and volumes whose definition changed since the Engine object was made (its label says
 * so; objects made before rollgate labelled definitions carry no hash and are taken as they are).
 * A changed network is recreated with its containers; a changed volume is refused, naming it,
 * because recreating it drops its data.
 */
function changedDefinitions(b: Builder, app: DesiredApp): Set<string> {
  const networks = new Set<string>();
  for (const n of app.networks) {
    const seen = b.observed.networks.find((o) => o.app === app.name && o.name === n.name)?.configHash;
    if (seen && n.configHash && seen !== n.configHash) networks.add(n.name);
  }
  for (const v of app.volumes) {
    const seen = b.observed.volumes.find(
      (o) =>
        o.app === app.name &&
        o.name === v.name &&
        (o.engineName ?? `${app.name}_${o.name}`) === (v.engineName ?? `${app.name}_${v.name}`),
    )?.configHash;
    if (seen && v.configHash && seen !== v.configHash) {
      throw new PlanError(
        `volume "${v.name}" of app "${app.name}" is defined differently from the volume on the gateway (driver, ` +
          `options or name changed); recreating it would drop its data, which rollgate never does silently: ` +
          `back it up and remove it by hand (docker volume rm), give the volume a new key, or set x-rollgate: { ` +
          `recreate_volumes: true } to have a changed volume made anew, empty, beside the old one`,
        `volume ${app.name}/${v.name}`,
      );
    }
  }
  return networks;
}

/** A `service_healthy` wait on a service that has no healthcheck anywhere could never end. */
function checkHealthyWaits(b: Builder, app: DesiredApp): void {
  const without = new Set(b.observed.imagesWithoutHealthcheck ?? []);
  for (const s of app.services) {
    for (const [dep, c] of Object.entries(s.config.dependsOn)) {
      const d = app.services.find((x) => x.name === dep);
      if (c.condition === 'service_healthy' && d && !d.config.healthcheck && without.has(d.config.image)) {
        throw new PlanError(
          `"${s.name}" of app "${app.name}" waits for "${dep}" to be healthy (depends_on: service_healthy), but ` +
            `"${dep}" has no healthcheck, neither in the Compose file nor in its image ${d.config.image}`,
          `depends_on ${app.name}/${s.name}`,
        );
      }
    }
  }
}

function planApp(b: Builder, app: DesiredApp, containers: ObservedContainer[], unchangedServices: string[]): void {
  checkHealthyWaits(b, app);
  const recreated = changedDefinitions(b, app);
  const steps: Step[] = [];
  const fin: Step[] = [];
  // A changed network is removed and made again once every container on it has stopped; the
  // services on it get new containers on the new network (stop-first: they cannot overlap).
  const recreateIds: string[] = [];
  const stopsBeforeRecreate: string[] = [];
  for (const n of app.networks.filter((x) => recreated.has(x.name))) {
    const target: StepTarget = { kind: 'network', app: app.name, name: n.name };
    const observed = b.observed.networks.find((o) => o.app === app.name && o.name === n.name);
    const id = stepId('recreate-network', target);
    steps.push({
      id,
      kind: 'recreate-network',
      target,
      dependsOn: stopsBeforeRecreate,
      ...(n.engineName ? { engineName: n.engineName } : {}),
      ...(observed?.spec ? { previous: observed.spec } : {}),
    });
    recreateIds.push(id);
    b.changes.push({
      action: 'change',
      target,
      ...(observed?.configHash ? { from: observed.configHash.slice(0, 12) } : {}),
      ...(n.configHash ? { to: n.configHash.slice(0, 12) } : {}),
      reason: 'its definition changed: it is made again, and the containers on it with it (stop-first)',
    });
  }
  const obsNets = b.networksByApp.get(app.name) ?? new Set<string>();
  const obsVols = b.volumesByApp.get(app.name) ?? new Set<string>();
  const infra: string[] = [];
  for (const n of app.networks) {
    if (obsNets.has(n.name) || n.external) continue;
    const target: StepTarget = { kind: 'network', app: app.name, name: n.name };
    steps.push({
      id: stepId('create-network', target),
      kind: 'create-network',
      target,
      dependsOn: [],
      ...(n.engineName ? { engineName: n.engineName } : {}),
    });
    infra.push(stepId('create-network', target));
    b.changes.push({ action: 'add', target, reason: 'network' });
  }
  for (const v of app.volumes) {
    // The same key under another Engine name (recreate_volumes) is another volume.
    const have = b.observed.volumes.some(
      (o) =>
        o.app === app.name &&
        o.name === v.name &&
        (o.engineName ?? `${app.name}_${o.name}`) === (v.engineName ?? `${app.name}_${v.name}`),
    );
    if (have || v.external) continue;
    const target: StepTarget = { kind: 'volume', app: app.name, name: v.name };
    steps.push({
      id: stepId('create-volume', target),
      kind: 'create-volume',
      target,
      dependsOn: [],
      ...(v.engineName ? { engineName: v.engineName } : {}),
    });
    infra.push(stepId('create-volume', target));
    b.changes.push({ action: 'add', target, reason: 'named volume' });
  }

  const byService = new Map<string, ObservedContainer[]>();
  for (const c of containers) push(byService, c.service, c);
  const startIds = new Map<string, string>();
  /** Services that get a new container in this plan: `depends_on: {restart: true}` restarts their dependents. */
  const replaced = new Set<string>();
  /** Plans a container away; returns the id of the step that stops it in the stage, when it runs. */
  const removeContainer = (c: ObservedContainer, reason: string, stopInStage: boolean): string | undefined => {
    const target: StepTarget = { kind: 'service', app: app.name, service: c.service };
    const stopId = stepId('stop', target, c.containerId);
    const stops = stopInStage && c.state !== 'exited' && c.state !== 'created' && c.state !== 'dead';
    if (stops) {
      steps.push({ id: stopId, kind: 'stop', target, dependsOn: [], containerId: c.containerId });
      stopsBeforeRecreate.push(stopId);
    }
    fin.push({
      id: stepId('remove', target, c.containerId),
      kind: 'remove',
      target,
      dependsOn: [],
      containerId: c.containerId,
    });
    b.changes.push({ action: 'remove', target, from: c.configHash.slice(0, 12), reason });
    return stops ? stopId : undefined;
  };

  for (const svc of serviceOrder(app)) {
    const target: StepTarget = { kind: 'service', app: app.name, service: svc.name };
    const list = (byService.get(svc.name) ?? []).sort((x, y) => byString(x.containerId, y.containerId));
    byService.delete(svc.name);
    // pull_policy always (or a due period) and the tag moved in the registry: same configuration, new image.
    const moved =
      b.moved.has(svc.config.image) &&
      svc.pullPolicy !== undefined &&
      svc.pullPolicy !== 'missing' &&
      svc.pullPolicy !== 'never';
    const onRecreated = !svc.config.networkMode && svc.config.networks.some((n) => recreated.has(n));
    const matching = moved || onRecreated ? [] : list.filter((c) => c.configHash === svc.configHash);
    const match = matching.find((c) => c.state === 'running') ?? matching[0];
    const others = list.filter((c) => c !== match);
    const depStarts = Object.keys(svc.config.dependsOn)
      .map((d) => startIds.get(d))
      .filter((x): x is string => x !== undefined);
    const waitFor = Object.entries(svc.config.dependsOn)
      .filter(([, c]) => c.condition !== 'service_started')
      .map(([service, c]) => ({ service, condition: c.condition }))
      .sort((x, y) => byString(x.service, y.service));
    const cn = svc.config.containerName ? { containerName: svc.config.containerName } : {};
    const start = (dependsOn: string[], containerId?: string, extraWait: Step['waitFor'] = []): Step => {
      const wait = [...waitFor, ...extraWait];
      const s: Step = {
        id: stepId('start', target),
        kind: 'start',
        target,
        dependsOn: [...dependsOn, ...depStarts],
        to: svc.configHash,
        ...(containerId ? { containerId } : {}),
        ...(wait.length ? { waitFor: wait } : {}),
        ...cn,
      };
      startIds.set(svc.name, s.id);
      return s;
    };

    if (match) {
      const staleStops = others.flatMap((o) => {
        const id = removeContainer(o, 'stale container of a service that already runs its desired configuration', true);
        return id ? [id] : [];
      });
      const restartFor = Object.entries(svc.config.dependsOn)
        .filter(([d, c]) => c.restart && replaced.has(d))
        .map(([d]) => d);
      if (match.state === 'running' && restartFor.length > 0) {
        // Compose's depends_on restart: the dependency got a new container, so this one restarts after it.
        const stopId = stepId('stop', target, match.containerId);
        steps.push({
          id: stopId,
          kind: 'stop',
          target,
          dependsOn: restartFor.map((d) => startIds.get(d)!).filter(Boolean),
          containerId: match.containerId,
        });
        steps.push(start([stopId], match.containerId));
        b.changes.push({
          action: 'change',
          target,
          to: svc.configHash.slice(0, 12),
          reason:
            `restarted after ${restartFor.join(', ')} ${restartFor.length === 1 ? 'is' : 'are'} replaced ` +
            `(depends_on restart: true)`,
        });
      } else if (match.state === 'running') {
        unchangedServices.push(`${app.name}/${svc.name}`);
      } else {
        // A stale container of the service that still runs may hold its ports: it stops first.
        steps.push(start(staleStops, match.containerId));
        b.changes.push({
          action: 'repair',
          target,
          to: svc.configHash.slice(0, 12),
          reason: `container is ${match.state}; it is started again`,
        });
      }
      continue;
    }

    b.pull(svc); // pulls run in the prepare phase, before any stage
    b.writeFiles(app, svc);
    replaced.add(svc.name);
    const createId = stepId('create', target);
    const old = list.find((c) => c.state === 'running') ?? list[0];
    for (const o of list) if (o !== old) removeContainer(o, 'stale container', true);
    // volumes_from names a service's container, which the Engine wants to exist when this one is created.
    const sources = (svc.config.volumesFrom ?? [])
      .filter((v) => !v.startsWith('container:'))
      .map((v) => v.split(':')[0]!)
      .filter((s) => replaced.has(s))
      .map((s) => stepId('create', { kind: 'service', app: app.name, service: s }));
    const create: Step = {
      id: createId,
      kind: 'create',
      target,
      dependsOn: [...infra, ...(onRecreated ? recreateIds : []), ...sources],
      to: svc.configHash,
      image: svc.config.image,
      ...(old ? { replaces: old.containerId, from: old.configHash } : {}),
      ...cn,
    };
    if (!old) {
      steps.push(create, start([createId]));
      b.changes.push({ action: 'add', target, to: svc.config.image, reason: 'new service' });
      continue;
    }
    const stopId = stepId('stop', target, old.containerId);
    const stop: Step = { id: stopId, kind: 'stop', target, dependsOn: [], containerId: old.containerId };
    const order = onRecreated ? 'stop-first' : updateOrder(app, svc);
    if (order === 'stop-first') {
      create.dependsOn.push(stopId);
      if (onRecreated) stopsBeforeRecreate.push(stopId);
      steps.push(stop, create, start([createId]));
    } else if (order === 'start-first') {
      // The new container runs and is ready (healthy, when it has a healthcheck) before the old stops.
      const s = start([createId], undefined, [{ service: svc.name, condition: 'ready' }]);
      stop.dependsOn.push(s.id);
      steps.push(create, s, stop);
    } else {
      stop.dependsOn.push(createId);
      steps.push(create, stop, start([stopId]));
    }
    fin.push({
      id: stepId('remove', target, old.containerId),
      kind: 'remove',
      target,
      dependsOn: [],
      containerId: old.containerId,
    });
    const from = old.image === svc.config.image ? old.configHash.slice(0, 12) : old.image;
    const to = old.image === svc.config.image ? svc.configHash.slice(0, 12) : svc.config.image;
    const same = old.configHash === svc.configHash;
    const byRegistry = moved && same;
    const reason = byRegistry
      ? `${svc.config.image} moved in the registry (pull_policy)`
      : onRecreated && same
        ? `its network ${svc.config.networks.filter((n) => recreated.has(n)).join(', ')} is made again`
        : old.image === svc.config.image
          ? 'configuration changed'
          : 'image changed';
    b.changes.push({
      action: 'change',
      target,
      from,
      to,
      reason,
      ...(byRegistry ? { cause: 'registry' as const } : {}),
    });
  }
  for (const name of [...byService.keys()].sort(byString)) {
    for (const c of byService.get(name)!) removeContainer(c, 'service is no longer in the compose file', true);
  }

  const removals = fin.map((s) => s.id);
  const desiredNets = new Set(app.networks.map((n) => n.name));
  for (const n of [...obsNets].sort(byString)) {
    if (desiredNets.has(n)) continue;
    const target: StepTarget = { kind: 'network', app: app.name, name: n };
    const engineName = b.engineNames.get(`network/${app.name}/${n}`);
    fin.push({
      id: stepId('remove-network', target),
      kind: 'remove-network',
      target,
      dependsOn: removals,
      ...(engineName ? { engineName } : {}),
    });
    b.changes.push({ action: 'remove', target, reason: 'network no longer declared' });
  }
  if (app.pruneVolumes) {
    const desiredVols = new Set(app.volumes.map((v) => v.name));
    for (const v of [...obsVols].sort(byString)) {
      if (desiredVols.has(v)) continue;
      const target: StepTarget = { kind: 'volume', app: app.name, name: v };
      const engineName = b.engineNames.get(`volume/${app.name}/${v}`);
      fin.push({
        id: stepId('remove-volume', target),
        kind: 'remove-volume',
        target,
        dependsOn: removals,
        ...(engineName ? { engineName } : {}),
      });
      b.changes.push({ action: 'remove', target, reason: 'volume no longer declared (x-rollgate.prune_volumes)' });
    }
  }
  if (steps.length > 0) b.appSteps.set(app.name, steps);
  if (fin.length > 0) b.appFinalize.set(app.name, fin);
}

/** Containers and networks of apps that are no longer desired; their named volumes are kept. */
function planRemovedApps(b: Builder, desiredApps: Set<string>): Step[] {
  const steps: Step[] = [];
  const gone = b.observed.containers
    .filter((c) => !desiredApps.has(c.app))
    .sort((x, y) => byString(x.app, y.app) || byString(x.service, y.service) || byString(x.containerId, y.containerId));
  const removals: string[] = [];
  for (const c of gone) {
    const target: StepTarget = { kind: 'service', app: c.app, service: c.service };
    if (c.state !== 'exited' && c.state !== 'created' && c.state !== 'dead')
      steps.push({
        id: stepId('stop', target, c.containerId),
        kind: 'stop',
        target,
        dependsOn: [],
        containerId: c.containerId,
      });
    const rm: Step = {
      id: stepId('remove', target, c.containerId),
      kind: 'remove',
      target,
      dependsOn: [],
      containerId: c.containerId,
    };
    b.finalize.push(rm);
    removals.push(rm.id);
    b.changes.push({
      action: 'remove',
      target,
      from: c.configHash.slice(0, 12),
      reason: `app "${c.app}" is no longer desired`,
    });
  }
  for (const n of b.observed.networks
    .filter((x) => !desiredApps.has(x.app))
    .sort((x, y) => byString(x.app, y.app) || byString(x.name, y.name))) {
    const target: StepTarget = { kind: 'network', app: n.app, name: n.name };
    b.finalize.push({
      id: stepId('remove-network', target),
      kind: 'remove-network',
      target,
      dependsOn: removals,
      ...(n.engineName ? { engineName: n.engineName } : {}),
    });
    b.changes.push({ action: 'remove', target, reason: `app "${n.app}" is no longer desired` });
  }
  return steps;
}

const hookText = (k: string, h: ServiceHook) => `${k}: ${h.command.join(' ')}${h.user ? ` (as ${h.user})` : ''}`;

/** Which Compose hooks each start and stop will run, so `rollgate diff` shows them where they run. */
function annotateHooks(desired: DesiredState, observed: ObservedState, steps: Step[]): void {
  for (const s of steps) {
    if (s.target.kind !== 'service') continue;
    const t = s.target;
    if (s.kind === 'start') {
      const svc = desired.apps.find((a) => a.name === t.app)?.services.find((x) => x.name === t.service);
      const hooks = svc?.config.postStart ?? [];
      if (hooks.length) s.hooks = hooks.map((h) => hookText('post_start', h));
    } else if (s.kind === 'stop' && s.containerId) {
      const hooks = observed.containers.find((c) => c.containerId === s.containerId)?.preStop ?? [];
      if (hooks.length) s.hooks = hooks.map((h) => hookText('pre_stop', h));
    }
  }
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
  const group = (order: number) => groups.get(order) ?? groups.set(order, { components: [], apps: [] }).get(order)!;
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
    for (const c of u.components) {
      const target: StepTarget = { kind: 'component', key: c.key, type: c.type };
      const obs = obsComp.get(c.key)?.version;
      const from = obs !== undefined ? { from: obs } : {};
      b.prepare.push({
        id: stepId('download', target),
        kind: 'download',
        target,
        dependsOn: [],
        ...from,
        to: c.version,
        artifact: c.artifact,
      });
      steps.push({ id: stepId('install', target), kind: 'install', target, dependsOn: [], ...from, to: c.version });
      steps.push({
        id: stepId('reboot', target),
        kind: 'reboot',
        target,
        dependsOn: [stepId('install', target)],
        to: c.version,
      });
      b.changes.push({
        action: obs === undefined ? 'add' : 'change',
        target,
        ...from,
        to: c.version,
        reason: obs === undefined ? 'version not known on the gateway' : 'new version',
      });
    }
    for (const a of u.apps) steps.push(...b.appSteps.get(a)!);
    if (u.components.length > 0) componentStages.push(u.components);
    stages.push({ name: u.name, order: u.order, steps });
  }

  const removedAppSteps = planRemovedApps(b, new Set(desired.apps.map((a) => a.name)));
  if (removedAppSteps.length > 0) stages.push({ name: 'remove', order: null, steps: removedAppSteps });

  // Commit last, in the order the stages ran, each stage's commits after the previous stage's.
  let prevCommits: string[] = [];
  for (const layer of componentStages) {
    const ids: string[] = [];
    for (const c of layer) {
      const target: StepTarget = { kind: 'component', key: c.key, type: c.type };
      const id = stepId('commit', target);
      b.finalize.push({ id, kind: 'commit', target, dependsOn: prevCommits, to: c.version });
      ids.push(id);
    }
    prevCommits = ids;
  }
  for (const app of desired.apps) b.finalize.push(...(b.appFinalize.get(app.name) ?? []));
  for (const layer of componentStages) {
    for (const c of layer) {
      const target: StepTarget = { kind: 'component', key: c.key, type: c.type };
      b.finalize.push({
        id: stepId('cleanup', target),
        kind: 'cleanup',
        target,
        dependsOn: [stepId('commit', target)],
      });
    }
  }

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
