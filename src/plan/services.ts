// An app's services: each service's containers as the gateway runs them against its desired
// configuration — left alone, started again (repair), restarted after a dependency (depends_on
// restart), or replaced by a new container in the order its update strategy says; containers of
// services no longer declared go. New containers' images and files are fetched in prepare.

import type {
  CreateStep,
  DesiredApp,
  DesiredService,
  ObservedContainer,
  ServiceTarget,
  StartStep,
  StopStep,
} from '../model/index.js';
import { byString, push, type AppSteps, type Builder } from './builder.js';
import { PlanError } from './errors.js';
import { stepId } from './ids.js';
import { pull, writeFiles } from './prepare-steps.js';

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

/** A `service_healthy` wait on a service that has no healthcheck anywhere could never end. */
export function checkHealthyWaits(b: Builder, app: DesiredApp): void {
  const without = b.imagesWithoutHealthcheck;
  const byName = new Map(app.services.map((s) => [s.name, s]));
  for (const s of app.services) {
    for (const [dep, c] of Object.entries(s.config.dependsOn)) {
      const d = byName.get(dep);
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

const stopped = (c: ObservedContainer) => c.state === 'exited' || c.state === 'created' || c.state === 'dead';

/** Plans the services of one app into its steps; the unchanged ones are named in `unchanged`. */
export function planServices(b: Builder, a: AppSteps, containers: ObservedContainer[], unchanged: string[]): void {
  const app = a.app;
  const byService = new Map<string, ObservedContainer[]>();
  for (const c of containers) push(byService, c.service, c);
  const startIds = new Map<string, string>();
  /** Services that get a new container in this plan: `depends_on: {restart: true}` restarts their dependents. */
  const replaced = new Set<string>();
  /** Plans a container away; returns the id of the step that stops it in the stage, when it runs. */
  const removeContainer = (c: ObservedContainer, reason: string, stopInStage: boolean): string | undefined => {
    const target: ServiceTarget = { kind: 'service', app: app.name, service: c.service };
    const stopId = stepId('stop', target, c.containerId);
    const stops = stopInStage && !stopped(c);
    if (stops) {
      a.steps.push({ id: stopId, kind: 'stop', target, dependsOn: [], containerId: c.containerId });
      a.stopsBeforeRecreate.push(stopId);
    }
    a.fin.push({
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
    const target: ServiceTarget = { kind: 'service', app: app.name, service: svc.name };
    const list = (byService.get(svc.name) ?? []).sort((x, y) => byString(x.containerId, y.containerId));
    byService.delete(svc.name);
    // pull_policy always (or a due period) and the tag moved in the registry: same configuration, new image.
    const moved =
      b.moved.has(svc.config.image) &&
      svc.pullPolicy !== undefined &&
      svc.pullPolicy !== 'missing' &&
      svc.pullPolicy !== 'never';
    const onRecreated = !svc.config.networkMode && svc.config.networks.some((n) => a.recreated.has(n));
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
    const start = (dependsOn: string[], containerId?: string, extraWait: StartStep['waitFor'] = []): StartStep => {
      const wait = [...waitFor, ...extraWait];
      const s: StartStep = {
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
        a.steps.push({
          id: stopId,
          kind: 'stop',
          target,
          dependsOn: restartFor.flatMap((d) => startIds.get(d) ?? []),
          containerId: match.containerId,
        });
        a.steps.push(start([stopId], match.containerId));
        b.changes.push({
          action: 'change',
          target,
          to: svc.configHash.slice(0, 12),
          reason:
            `restarted after ${restartFor.join(', ')} ${restartFor.length === 1 ? 'is' : 'are'} replaced ` +
            `(depends_on restart: true)`,
        });
      } else if (match.state === 'running') {
        unchanged.push(`${app.name}/${svc.name}`);
      } else {
        // A stale container of the service that still runs may hold its ports: it stops first.
        a.steps.push(start(staleStops, match.containerId));
        b.changes.push({
          action: 'repair',
          target,
          to: svc.configHash.slice(0, 12),
          reason: `container is ${match.state}; it is started again`,
        });
      }
      continue;
    }

    pull(b, svc); // pulls run in the prepare phase, before any stage
    writeFiles(b, app, svc);
    replaced.add(svc.name);
    const createId = stepId('create', target);
    const old = list.find((c) => c.state === 'running') ?? list[0];
    for (const o of list) if (o !== old) removeContainer(o, 'stale container', true);
    // volumes_from names a service's container, which the Engine wants to exist when this one is created.
    const sources = (svc.config.volumesFrom ?? [])
      .filter((v) => !v.startsWith('container:'))
      .map((v) => v.split(':')[0] ?? v)
      .filter((s) => replaced.has(s))
      .map((s) => stepId('create', { kind: 'service', app: app.name, service: s }));
    const create: CreateStep = {
      id: createId,
      kind: 'create',
      target,
      dependsOn: [...a.infra, ...(onRecreated ? a.recreateIds : []), ...sources],
      to: svc.configHash,
      image: svc.config.image,
      ...(old ? { replaces: old.containerId, from: old.configHash } : {}),
      ...cn,
    };
    if (!old) {
      a.steps.push(create, start([createId]));
      b.changes.push({ action: 'add', target, to: svc.config.image, reason: 'new service' });
      continue;
    }
    const stopId = stepId('stop', target, old.containerId);
    const stop: StopStep = { id: stopId, kind: 'stop', target, dependsOn: [], containerId: old.containerId };
    const order = onRecreated ? 'stop-first' : updateOrder(app, svc);
    if (order === 'stop-first') {
      create.dependsOn.push(stopId);
      if (onRecreated) a.stopsBeforeRecreate.push(stopId);
      a.steps.push(stop, create, start([createId]));
    } else if (order === 'start-first') {
      // The new container runs and is ready (healthy, when it has a healthcheck) before the old stops.
      const s = start([createId], undefined, [{ service: svc.name, condition: 'ready' }]);
      stop.dependsOn.push(s.id);
      a.steps.push(create, s, stop);
    } else {
      stop.dependsOn.push(createId);
      a.steps.push(create, stop, start([stopId]));
    }
    a.fin.push({
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
        ? `its network ${svc.config.networks.filter((n) => a.recreated.has(n)).join(', ')} is made again`
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
  for (const [, gone] of [...byService.entries()].sort(([x], [y]) => byString(x, y)))
    for (const c of gone) removeContainer(c, 'service is no longer in the compose file', true);
}
