// A service's new container: its mounts made ready on the host, its container_name checked, the
// policy on its paths checked again, then created under its transaction's label — so an undo
// finds it by label even when a crash came before the journal knew its id.

import { mkdir } from 'node:fs/promises';
import type { DesiredApp, DesiredService, StepOf } from '../../model/index.js';
import type { StepContext } from '../applier.js';
import type { StepResult } from '../step-handlers.js';
import { bindSource, containerSpec, endpointConfig, extraNetworks } from './container-spec.js';
import { findApp, findService, holder, ignore, type DockerEnv } from './env.js';
import { DockerError, engineMessage, statusOf } from './errors.js';
import { exists, writeTree } from './files.js';
import { vetService } from './host-policy.js';
import { LABEL, containerName, ownedBy, pendingName } from './labels.js';

/** Everything a container's mounts need on the host: repo files, data directories, host paths. */
async function prepareMounts(env: DockerEnv, app: DesiredApp, svc: DesiredService, ctx: StepContext): Promise<void> {
  for (const hash of svc.config.files ?? []) {
    const tree = app.files?.find((f) => f.hash === hash);
    if (tree && (await writeTree(env.paths.files, app.name, tree)))
      ctx.log.warn(
        { app: app.name, files: hash.slice(0, 12) },
        `files ${hash.slice(0, 12)} of ${app.name} were missing and were written again`,
      );
  }
  for (const v of svc.config.volumes) {
    if (v.type !== 'bind' || v.repo) continue;
    // Compose creates a missing bind source as a directory; so do we (data directories included).
    const src = bindSource(env.paths, app.name, v);
    if (src !== undefined && !(await exists(src))) await mkdir(src, { recursive: true });
  }
}

/**
 * `volumes_from: [service]` names a service; the Engine wants the container that runs it now —
 * one of this state directory's: another instance's app of the same name is not this app.
 */
async function volumesFrom(
  env: DockerEnv,
  app: string,
  svc: DesiredService,
  ctx: StepContext,
): Promise<string[] | undefined> {
  const from = svc.config.volumesFrom;
  if (!from) return undefined;
  const out: string[] = [];
  for (const f of from) {
    if (f.startsWith('container:')) {
      out.push(f.slice('container:'.length));
      continue;
    }
    const [service, mode] = f.split(':');
    const filters = JSON.stringify({ label: [`${LABEL.app}=${app}`, `${LABEL.service}=${service}`] });
    const list = (await env.engine.call((d) => d.listContainers({ all: true, filters }))).filter((c) =>
      ownedBy(c.Labels, env.opts.owner),
    );
    // The container of the source's desired configuration (just made, in a plan that replaces it), else the
    // one that runs.
    const wanted = ctx.desired?.apps.find((a) => a.name === app)?.services.find((x) => x.name === service)?.configHash;
    const c =
      list.find((x) => x.Labels[LABEL.configHash] === wanted) ?? list.find((x) => x.State === 'running') ?? list[0];
    if (!c)
      throw new DockerError(
        'engine',
        `${app}/${svc.name} takes volumes from service "${service}", which has no container`,
      );
    out.push(mode ? `${c.Id}:${mode}` : c.Id);
  }
  return out;
}

/**
 * A container_name held by a container rollgate does not manage (one `docker compose up` made,
 * say), by another instance or by another service is reported before anything stops: rollgate
 * never removes what it does not own.
 */
async function checkNameFree(env: DockerEnv, cn: string, t: { app: string; service: string }): Promise<void> {
  const h = await holder(env, cn);
  if (h && h.Config.Labels?.[LABEL.app] === undefined) {
    const project = h.Config.Labels?.['com.docker.compose.project'];
    const handOver = project
      ? ` (docker compose project "${project}": run "docker compose down" there to hand the service over)`
      : '; remove or rename it';
    throw new DockerError(
      'engine',
      `container_name "${cn}" of ${t.app}/${t.service} is taken by container ${h.Name.replace(/^\//, '')}, ` +
        `which rollgate does not manage${handOver}`,
    );
  }
  if (h && !ownedBy(h.Config.Labels, env.opts.owner))
    throw new DockerError(
      'engine',
      `container_name "${cn}" of ${t.app}/${t.service} is taken by container ${h.Name.replace(/^\//, '')} of ` +
        `another rollgate instance (state directory owner ${h.Config.Labels?.[LABEL.owner]}); it is left alone`,
    );
  if (h && (h.Config.Labels?.[LABEL.app] !== t.app || h.Config.Labels?.[LABEL.service] !== t.service)) {
    throw new DockerError(
      'engine',
      `container_name "${cn}" of ${t.app}/${t.service} is taken ` +
        `by ${h.Config.Labels?.[LABEL.app]}/${h.Config.Labels?.[LABEL.service]}`,
    );
  }
}

export async function createContainer(env: DockerEnv, step: StepOf<'create'>, ctx: StepContext): Promise<StepResult> {
  const t = step.target;
  const app = findApp(ctx, t.app);
  const svc = findService(ctx, t.app, t.service);
  const id = {
    app: t.app,
    service: t.service,
    configHash: svc.configHash,
    txn: ctx.txn,
    ...(ctx.desired?.source.commit ? { commit: ctx.desired.source.commit } : {}),
    ...(env.opts.owner ? { owner: env.opts.owner } : {}),
  };
  // Before a missing bind source is made (mkdir follows links too), and again just before the create.
  await vetService(env, app, svc);
  await prepareMounts(env, app, svc, ctx);
  const cn = svc.config.containerName;
  if (cn) await checkNameFree(env, cn, t);
  const from = await volumesFrom(env, t.app, svc, ctx);
  const make = (name: string) => {
    const spec = containerSpec(id, svc.config, name, env.paths);
    if (from) spec.HostConfig = { ...spec.HostConfig, VolumesFrom: from };
    return spec;
  };
  await vetService(env, app, svc);
  // With a container_name, the new container waits under another name until `start` moves the name.
  const name = cn ?? containerName(t.app, t.service, svc.configHash);
  const spec = make(name);
  let containerId: string;
  try {
    containerId = (await env.engine.call((d) => d.createContainer(spec))).id;
  } catch (err) {
    if (statusOf(err) === 404)
      throw new DockerError(
        'image-not-found',
        `image ${svc.config.image} of ${t.app}/${t.service} is not on the gateway: ${engineMessage(err)}`,
      );
    if (statusOf(err) !== 409)
      throw new DockerError('engine', `could not create the container of ${t.app}/${t.service}: ${engineMessage(err)}`);
    // The name is taken: by this transaction (a retry after a lost answer) or by a leftover.
    const existing = await env.engine.call((d) => d.getContainer(name).inspect());
    if (existing.Config.Labels?.[LABEL.txn] === ctx.txn) containerId = existing.Id;
    else {
      const other = cn
        ? pendingName(cn, ctx.txn)
        : `${containerName(t.app, t.service, svc.configHash)}-${ctx.txn.slice(0, 6)}`;
      const again = await holder(env, other);
      if (again?.Config.Labels?.[LABEL.txn] === ctx.txn) containerId = again.Id;
      else {
        const aside = make(other);
        containerId = (await env.engine.call((d) => d.createContainer(aside))).id;
      }
    }
  }
  env.created.set(`${t.app}/${t.service}`, { txn: ctx.txn, id: containerId });
  for (const net of extraNetworks(t.app, svc.config)) {
    await ignore(
      env.engine.call((d) =>
        d
          .getNetwork(net.name)
          .connect({ Container: containerId, EndpointConfig: endpointConfig(t.service, svc.config, net.key) }),
      ),
      409,
      403,
    );
  }
  ctx.log.info(
    { app: t.app, service: t.service, container: containerId.slice(0, 12), image: svc.config.image },
    `created ${t.app}/${t.service} (${svc.config.image})`,
  );
  return { containerId };
}

/** The containers this transaction made for the service go: found by label, so a create a crash cut short is too. */
export async function removeCreated(env: DockerEnv, step: StepOf<'create'>, ctx: StepContext): Promise<void> {
  const t = step.target;
  const filters = JSON.stringify({
    label: [`${LABEL.txn}=${ctx.txn}`, `${LABEL.app}=${t.app}`, `${LABEL.service}=${t.service}`],
  });
  for (const c of await env.engine.call((d) => d.listContainers({ all: true, filters }))) {
    await ignore(
      env.engine.call((d) => d.getContainer(c.Id).remove({ force: true, v: false })),
      404,
      409,
    );
  }
}
