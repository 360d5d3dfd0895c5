// Starting and stopping a service's containers: the new one takes the container_name and starts
// (after what it waits for), runs its post_start hooks, and — start-first — is ready before the
// old one stops; the old one runs its pre_stop hooks before it stops. A container whose task
// outlived an Engine restart cannot start again: it is made anew from its own definition.

import type Docker from 'dockerode';
import type { ServiceHook, ServiceTarget, StepOf } from '../../model/index.js';
import type { StepContext } from '../applier.js';
import type { StepResult } from '../step-handlers.js';
import { findApp, findService, holder, ignore, type DockerEnv } from './env.js';
import { DockerError, engineMessage, isStuckContainer, portInUse, statusOf } from './errors.js';
import { hookLine, lastLine, runHook, runPreStop } from './hooks.js';
import { vetService } from './host-policy.js';
import { LABEL, asideName, pendingName } from './labels.js';
import { preStopOf } from './observe.js';
import { stopOrphanedTask } from './orphan-task.js';
import { healthyDeadlineMs, waitForDependency, waitReady } from './wait.js';

/** The container a `start` step means: the one it names, or the one this transaction created. */
export async function startTarget(env: DockerEnv, step: StepOf<'start'>, txn: string): Promise<string | undefined> {
  const t = step.target;
  if (step.containerId) return step.containerId;
  const mine = env.created.get(`${t.app}/${t.service}`);
  if (mine?.txn === txn) return mine.id;
  const filters = JSON.stringify({
    label: [`${LABEL.txn}=${txn}`, `${LABEL.app}=${t.app}`, `${LABEL.service}=${t.service}`],
  });
  return (await env.engine.call((d) => d.listContainers({ all: true, filters })))[0]?.Id;
}

export async function startService(env: DockerEnv, step: StepOf<'start'>, ctx: StepContext): Promise<StepResult> {
  const t = step.target;
  const containerId = await startTarget(env, step, ctx.txn);
  if (!containerId) throw new Error(`the container of ${t.app}/${t.service} to start was not found`);
  for (const w of step.waitFor ?? []) {
    if (w.condition === 'ready') continue; // after the start, below
    const dep = findService(ctx, t.app, w.service);
    ctx.log.info(
      { app: t.app, service: t.service, waitsFor: w.service, condition: w.condition },
      `${t.app}/${t.service} waits for ${w.service} (${w.condition})`,
    );
    await waitForDependency(env.engine, {
      app: t.app,
      service: t.service,
      dependency: dep,
      condition: w.condition,
      deadlineMs: env.opts.waitDeadlineMs ?? healthyDeadlineMs(dep),
    });
  }
  // The Engine resolves bind sources when the container starts, not when it is made: a link
  // planted since the create (while this start waited, say) is caught here.
  await vetService(env, findApp(ctx, t.app), findService(ctx, t.app, t.service));
  if (step.containerName) await takeName(env, step.containerName, containerId, t, ctx.txn);
  let runs: string;
  try {
    runs = await startContainer(env, containerId, `${t.app}/${t.service}`, ctx);
  } catch (err) {
    if (err instanceof DockerError && err.kind === 'engine-unreachable') throw err;
    const msg = engineMessage(err);
    const port = portInUse(msg);
    if (port)
      throw new DockerError(
        'port-in-use',
        `port ${port} is already in use on the gateway, so ${t.app}/${t.service} cannot start (${msg})`,
      );
    throw new DockerError('engine', `${t.app}/${t.service} could not start: ${msg}`);
  }
  if (runs !== containerId) env.created.set(`${t.app}/${t.service}`, { txn: ctx.txn, id: runs });
  ctx.log.info({ app: t.app, service: t.service, container: runs.slice(0, 12) }, `started ${t.app}/${t.service}`);
  await postStart(env, runs, findService(ctx, t.app, t.service).config.postStart ?? [], t, ctx);
  if (step.waitFor?.some((w) => w.condition === 'ready')) {
    const self = findService(ctx, t.app, t.service);
    await waitReady(env.engine, {
      app: t.app,
      service: t.service,
      containerId: runs,
      deadlineMs: env.opts.waitDeadlineMs ?? healthyDeadlineMs(self),
    });
    ctx.log.info(
      { app: t.app, service: t.service },
      `${t.app}/${t.service} is ready; its previous container stops now (start-first)`,
    );
  }
  return { containerId: runs };
}

/** Undo of a start: what was started stops, so the container it replaced can have its ports back. */
export async function stopStarted(
  env: DockerEnv,
  step: StepOf<'start'>,
  rec: { containerId?: string },
  ctx: StepContext,
): Promise<void> {
  const id = rec.containerId ?? (await startTarget(env, step, ctx.txn));
  if (id)
    await ignore(
      env.engine.call((d) => d.getContainer(id).stop({ t: 5 })),
      304,
      404,
    );
  // A repair start (step.containerId) never moved a name.
  if (step.containerName && !step.containerId) await giveNameBack(env, step.containerName, id, ctx.txn);
}

/** A container that runs stops, after its pre_stop hooks. */
export async function stopContainer(env: DockerEnv, step: StepOf<'stop'>, ctx: StepContext): Promise<StepResult> {
  await preStop(env, step.containerId, ctx);
  await ignore(
    env.engine.call((d) => d.getContainer(step.containerId).stop()),
    304,
    404,
  );
  return { containerId: step.containerId };
}

/** Undo of a stop: the previous container runs again, or the reason it cannot. */
export async function restartStopped(env: DockerEnv, step: StepOf<'stop'>, ctx: StepContext): Promise<void> {
  const t = step.target;
  try {
    await startContainer(env, step.containerId, `the previous container of ${t.app}/${t.service}`, ctx);
  } catch (err) {
    if (err instanceof DockerError && err.kind === 'engine-unreachable') throw err;
    if (statusOf(err) === 404)
      throw new DockerError(
        'engine',
        `the container ${step.containerId.slice(0, 12)} of ${t.app}/${t.service} is gone and cannot be ` +
          `started again`,
      );
    const port = portInUse(engineMessage(err));
    throw new DockerError(
      port ? 'port-in-use' : 'engine',
      port
        ? `port ${port} is taken, so the previous container of ${t.app}/${t.service} cannot start again ` +
            `(${engineMessage(err)})`
        : `the previous container of ${t.app}/${t.service} could not start again: ${engineMessage(err)}`,
    );
  }
}

/**
 * Starts a container and resolves to the one that runs: itself, or — when its task outlived an
 * Engine restart and it can never start again — a copy made from its own definition (every
 * setting and label, so it is the same service and configuration), which takes its name.
 */
export async function startContainer(env: DockerEnv, id: string, who: string, ctx: StepContext): Promise<string> {
  try {
    await ignore(
      env.engine.call((d) => d.getContainer(id).start()),
      304,
    );
    return id;
  } catch (err) {
    if (!isStuckContainer(engineMessage(err))) throw err;
    ctx.log.warn(
      { container: id.slice(0, 12), err: engineMessage(err) },
      `${who} cannot start again (${engineMessage(err)}: its task outlived an Engine restart); it is made ` +
        `anew from its own definition`,
    );
    const stopped = await stopOrphanedTask(
      id,
      (await env.engine.call((d) => d.getContainer(id).inspect())).HostConfig.CgroupParent,
    );
    if (stopped.length)
      ctx.log.warn(
        { container: id.slice(0, 12), pids: stopped },
        `stopped ${stopped.length} process(es) of the task ${who} had left running`,
      );
    const made = await recreate(env, id);
    await ignore(
      env.engine.call((d) => d.getContainer(made).start()),
      304,
    );
    ctx.log.info({ container: made.slice(0, 12), was: id.slice(0, 12) }, `${who} runs again as a new container`);
    return made;
  }
}

/**
 * A copy of a container, from what the Engine says of it, under its name; the original is
 * removed. The copy is made before the original goes, so a crash in between leaves two
 * containers of the service (the next plan removes the stale one), never none.
 */
async function recreate(env: DockerEnv, id: string): Promise<string> {
  const e = env.engine;
  const info = await e.call((d) => d.getContainer(id).inspect());
  const name = info.Name.replace(/^\//, '');
  const spare = `${name}-recreated`;
  const left = await holder(env, spare);
  if (left)
    await ignore(
      e.call((d) => d.getContainer(left.Id).remove({ force: true, v: false })),
      404,
      409,
    );
  const networks = Object.entries(info.NetworkSettings.Networks ?? {});
  const primary = info.HostConfig.NetworkMode;
  const endpoint = (ep: (typeof networks)[number][1]) => ({
    ...(ep.IPAMConfig ? { IPAMConfig: ep.IPAMConfig } : {}),
    ...(ep.Links ? { Links: ep.Links } : {}),
    // The Engine adds the container's short id as an alias itself.
    Aliases: (ep.Aliases ?? []).filter((a: string) => !id.startsWith(a)),
  });
  const config = { ...info.Config } as Record<string, unknown>;
  if (config['Hostname'] === id.slice(0, 12)) delete config['Hostname'];
  const first = networks.find(([n]) => n === primary);
  const made = (
    await e.call((d) =>
      d.createContainer({
        ...config,
        name: spare,
        HostConfig: info.HostConfig,
        ...(first ? { NetworkingConfig: { EndpointsConfig: { [first[0]]: endpoint(first[1]) } } } : {}),
      } as Docker.ContainerCreateOptions),
    )
  ).id;
  for (const [net, ep] of networks) {
    if (net === primary) continue;
    await ignore(
      e.call((d) => d.getNetwork(net).connect({ Container: made, EndpointConfig: endpoint(ep) })),
      409,
      403,
    );
  }
  await ignore(
    e.call((d) => d.getContainer(id).remove({ force: true, v: false })),
    404,
  );
  await e.call((d) => d.getContainer(made).rename({ name }));
  return made;
}

/** post_start hooks, in order: a failure (or one that does not end) fails the start, which is then undone. */
async function postStart(
  env: DockerEnv,
  containerId: string,
  hooks: readonly ServiceHook[],
  t: ServiceTarget,
  ctx: StepContext,
): Promise<void> {
  const timeoutMs = env.opts.postStartTimeoutMs ?? 120_000;
  for (const [i, h] of hooks.entries()) {
    const r = await runHook(env.engine, containerId, h, timeoutMs);
    const what = `post_start hook ${i + 1} of ${t.app}/${t.service} (${hookLine(h)})`;
    if (r.exitCode === undefined) throw new DockerError('hook', `${what} did not end within ${timeoutMs / 1000} s`);
    if (r.exitCode !== 0)
      throw new DockerError('hook', `${what} exited with code ${r.exitCode}: ${lastLine(r.output) || 'no output'}`);
    ctx.log.info({ app: t.app, service: t.service, hook: hookLine(h) }, `${what} ran`);
  }
}

/** The pre_stop hooks a running container was created with, before it stops. */
async function preStop(env: DockerEnv, containerId: string, ctx: StepContext): Promise<void> {
  const info = await env.engine.call((d) => d.getContainer(containerId).inspect()).catch(() => undefined);
  const hooks = preStopOf(info?.Config.Labels?.[LABEL.preStop]);
  if (!info?.State.Running || !hooks) return;
  const who = `${info.Config.Labels?.[LABEL.app]}/${info.Config.Labels?.[LABEL.service]}`;
  await runPreStop(env.engine, containerId, hooks, env.opts.preStopTimeoutMs ?? 30_000, who, ctx.log);
}

/** Moves the container_name to the new container: the holder (the one it replaces) steps aside. */
async function takeName(
  env: DockerEnv,
  name: string,
  containerId: string,
  t: ServiceTarget,
  txn: string,
): Promise<void> {
  const h = await holder(env, name);
  if (h?.Id === containerId) return;
  if (h) {
    if (h.Config.Labels?.[LABEL.app] !== t.app || h.Config.Labels?.[LABEL.service] !== t.service) {
      throw new DockerError(
        'engine',
        `container_name "${name}" of ${t.app}/${t.service} is taken by ` +
          `container ${h.Name.replace(/^\//, '')}, which rollgate does not manage for this service`,
      );
    }
    await env.engine.call((d) => d.getContainer(h.Id).rename({ name: asideName(name, txn) }));
  }
  await env.engine.call((d) => d.getContainer(containerId).rename({ name }));
}

/** Undoes takeName: the new container gives the name back to the one it replaced. */
async function giveNameBack(env: DockerEnv, name: string, containerId: string | undefined, txn: string): Promise<void> {
  const h = await holder(env, name);
  if (h && h.Id === containerId)
    await env.engine.call((d) => d.getContainer(h.Id).rename({ name: pendingName(name, txn) }));
  const aside = await holder(env, asideName(name, txn));
  if (aside && (!h || h.Id === containerId)) await env.engine.call((d) => d.getContainer(aside.Id).rename({ name }));
}
