// Named volumes: made with rollgate's labels, or adopted as they are when a `docker compose` of
// the same project left them with their data; never recreated, and removed only when the app
// asks for it (x-rollgate.prune_volumes). An undo never removes a volume (safety rule 2).

import { RefusedError, type StepContext } from '../applier.js';
import type { Log } from '../../base/log.js';
import { keep, type HandlerTable } from '../step-handlers.js';
import { DockerError, statusOf } from './errors.js';
import { findApp, ignore, ownerLabel, type DockerEnv } from './env.js';
import { LABEL, ownedBy, volumeName } from './labels.js';
import type { StepOf, VolumeTarget } from '../../model/index.js';

type VolumeInfo = { Labels?: Record<string, string> | null };

/** A volume as the Engine reports it (its labels may be null), or undefined when there is none of that name. */
async function volumeInfo(env: DockerEnv, name: string): Promise<VolumeInfo | undefined> {
  try {
    const info: VolumeInfo = await env.engine.read<VolumeInfo>(`/volumes/${encodeURIComponent(name)}`);
    return info;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

/** Whether a volume of this name is on the gateway, made by something other than rollgate. */
export async function unmanagedVolume(env: DockerEnv, name: string): Promise<boolean> {
  const v = await volumeInfo(env, name);
  return v !== undefined && v.Labels?.[LABEL.app] === undefined;
}

/** Whether a volume rollgate did not make may be used (under a policy: when policy.externalVolumes names it). */
function mayAdopt(env: DockerEnv, name: string): boolean {
  return !env.opts.policy || (env.opts.policy.externalVolumes ?? []).includes(name);
}

/**
 * Whether an existing volume may be used as `app`'s volume `key`: refused (DockerError naming it)
 * when it belongs to another rollgate instance or to another of this instance's volumes; used
 * when it is this one; adopted, and reported once, when it carries no rollgate labels (a volume a
 * `docker compose` of the same project left, with its data). Returns whether it was adopted.
 */
function volumeOwnership(
  env: DockerEnv,
  name: string,
  v: { app: string; name: string },
  labels: Record<string, string> | null | undefined,
  log: Log,
): 'own' | 'adopted' {
  const owner = labels?.[LABEL.owner];
  if (owner !== undefined && !ownedBy(labels, env.opts.owner))
    throw new DockerError(
      'engine',
      `volume ${name} belongs to another rollgate instance (state directory owner ${owner}); its data is not ` +
        `shared and it is left alone: rename app "${v.app}" or the volume, or remove that instance's app`,
    );
  const app = labels?.[LABEL.app];
  if (app !== undefined) {
    if (app === v.app && labels?.[LABEL.volume] === v.name) return 'own';
    throw new DockerError(
      'engine',
      `volume ${name} is volume "${labels?.[LABEL.volume]}" of app "${app}"; it is not shared with volume ` +
        `"${v.name}" of app "${v.app}": give one of them another name`,
    );
  }
  // Under a policy, data rollgate did not make is used only when the policy names it.
  if (!mayAdopt(env, name))
    throw new RefusedError(
      'forbidden',
      `forbidden by this gateway's policy.externalVolumes: volume ${name} of ${v.app} is already on the ` +
        `gateway and rollgate did not make it; using it is not allowed ` +
        `(allowed: ${env.opts.policy?.externalVolumes?.join(', ') || 'none'})`,
    );
  if (!env.reportedVolumes.has(name)) {
    env.reportedVolumes.add(name);
    const project = labels?.['com.docker.compose.project'];
    log.warn(
      { volume: name, app: v.app },
      `volume ${name} already existed without rollgate's labels (` +
        (project ? `made by docker compose for project "${project}"` : 'made by hand or by another tool') +
        `); it is adopted as volume "${v.name}" of app "${v.app}", data included, as it is: rollgate never ` +
        'removes or recreates it (remove it by hand to have rollgate make its own)',
    );
  }
  return 'adopted';
}

export type WantedVolume = { app: string; name: string; engineName?: string };

/**
 * Of the desired volumes the Engine's labels did not show, those that exist without rollgate's
 * labels: adopted as they are (reported once), so they are not planned again at every reconcile.
 * Another owner's are left out; creating them is refused by name.
 */
export async function adoptVolumes(
  env: DockerEnv,
  wanted: WantedVolume[],
  log: Log,
): Promise<(WantedVolume & { unlabelled: true })[]> {
  const out: (WantedVolume & { unlabelled: true })[] = [];
  for (const w of wanted) {
    const name = w.engineName ?? volumeName(w.app, w.name);
    const info = await volumeInfo(env, name);
    if (!info || info.Labels?.[LABEL.app] !== undefined || info.Labels?.[LABEL.owner] !== undefined) continue;
    // Not adopted in observation: its create step is planned, and refused there by name.
    if (!mayAdopt(env, name)) continue;
    volumeOwnership(env, name, w, info.Labels, log);
    out.push({ app: w.app, name: w.name, ...(w.engineName ? { engineName: w.engineName } : {}), unlabelled: true });
  }
  return out;
}

const engineNameOf = (step: { target: VolumeTarget; engineName?: string }) =>
  step.engineName ?? volumeName(step.target.app, step.target.name);

async function createVolume(env: DockerEnv, step: StepOf<'create-volume'>, ctx: StepContext): Promise<void> {
  const t = step.target;
  const vol = findApp(ctx, t.app).volumes.find((v) => v.name === t.name);
  const name = engineNameOf(step);
  // Ownership is read from the volume itself (the create call's answer carries no labels):
  // before, so nothing of another owner is touched, and after, in case another made it meanwhile.
  const before = await volumeInfo(env, name);
  if (before) {
    volumeOwnership(env, name, t, before.Labels, ctx.log);
    return;
  }
  // Creating an existing volume returns it unchanged: its data is never at risk here.
  await env.engine.call((d) =>
    d.createVolume({
      Name: name,
      Driver: vol?.driver ?? 'local',
      ...(vol?.driverOpts ? { DriverOpts: vol.driverOpts } : {}),
      Labels: {
        ...(vol?.labels ?? {}),
        [LABEL.app]: t.app,
        [LABEL.volume]: t.name,
        [LABEL.txn]: ctx.txn,
        ...ownerLabel(env),
        ...(vol?.configHash ? { [LABEL.configHash]: vol.configHash } : {}),
      },
    }),
  );
  const after = await volumeInfo(env, name);
  if (!after) throw new DockerError('engine', `volume ${name} was created, but the Engine does not show it`);
  volumeOwnership(env, name, t, after.Labels, ctx.log);
}

export const VOLUME_STEPS = {
  'create-volume': {
    run: async (env, step, ctx) => {
      await createVolume(env, step, ctx);
      return {};
    },
    // A volume may hold data written since; it is kept (safety rule 2).
    undo: keep,
  },
  'remove-volume': {
    run: async (env, step) => {
      await ignore(
        env.engine.call((d) => d.getVolume(engineNameOf(step)).remove()),
        404,
      );
      return {};
    },
    undo: keep,
  },
} satisfies HandlerTable<'create-volume' | 'remove-volume', DockerEnv>;
