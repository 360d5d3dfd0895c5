// Images: pulled in the prepare phase (safety rule 1), asked of the registry whether their tag
// moved (pull_policy), and pruned after a confirmed change when nothing uses them any more —
// only images of containers rollgate itself removed.

import type Docker from 'dockerode';
import type { Log } from '../../base/log.js';
import type { StepContext, StepRecord } from '../applier.js';
import { keep, type HandlerTable } from '../step-handlers.js';
import { engineMessage, statusOf } from './errors.js';
import type { DockerEnv } from './env.js';
import { LABEL, ownedBy } from './labels.js';
import { pullImage, registryOf } from './pull.js';

/** Of these images on the gateway, those whose configuration defines no healthcheck. */
export async function imagesWithoutHealthcheck(env: DockerEnv, refs: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const ref of refs) {
    const info = await env.engine
      .read<Docker.ImageInspectInfo>(`/images/${ref.split('/').map(encodeURIComponent).join('/')}/json`)
      .catch(() => undefined);
    const test = info?.Config?.Healthcheck?.Test;
    if (info && (!test || test.length === 0 || test[0] === 'NONE')) out.push(ref);
  }
  return out;
}

/**
 * Of these image references, those whose tag names another digest in the registry than the
 * image on the gateway: one manifest request per image, made by the Engine with the registry
 * credentials. A registry that cannot be asked is logged and the image taken as it is.
 */
export async function movedImages(env: DockerEnv, refs: string[], log: Log): Promise<string[]> {
  const engine = env.engine;
  const moved: string[] = [];
  const containers = (
    await engine.call((d) => d.listContainers({ all: true, filters: JSON.stringify({ label: [LABEL.app] }) }))
  ).filter((c) => ownedBy(c.Labels, env.opts.owner));
  // The list names a container's image by ID once its tag moved on the gateway: ask those what they were made from.
  const made = new Map<string, string>();
  for (const c of containers)
    made.set(
      c.Id,
      c.Image.startsWith('sha256:')
        ? ((await engine.call((d) => d.getContainer(c.Id).inspect()).catch(() => undefined))?.Config.Image ?? c.Image)
        : c.Image,
    );
  for (const ref of refs) {
    // What runs is what counts: the images of the containers made from this reference.
    const ids = [...new Set(containers.filter((c) => made.get(c.Id) === ref).map((c) => c.ImageID))];
    if (ids.length === 0) continue; // nothing runs it yet: the plan pulls it anyway
    const auth = env.opts.registryAuth?.[registryOf(ref)];
    let remote: string | undefined;
    try {
      const info = await engine.call((d) =>
        d
          .getImage(ref)
          .distribution(
            auth
              ? { authconfig: { username: auth.username, password: auth.password, serveraddress: registryOf(ref) } }
              : {},
          ),
      );
      remote = info.Descriptor?.digest;
    } catch (err) {
      log.warn(
        { image: ref, err: engineMessage(err) },
        `could not ask the registry whether ${ref} moved (pull_policy); it is kept as it is: ${engineMessage(err)}`,
      );
      continue;
    }
    if (!remote) continue;
    for (const id of ids) {
      const digests = (await engine.call((d) => d.getImage(id).inspect()).catch(() => undefined))?.RepoDigests ?? [];
      if (digests.some((x) => x.endsWith(`@${remote}`))) continue;
      log.info(
        { image: ref, digest: remote },
        `${ref} now names ${remote} in the registry; its services are replaced (pull_policy)`,
      );
      moved.push(ref);
      break;
    }
  }
  return moved;
}

/** Prunes the images of containers this apply removed, unless still wanted or in use. */
export async function pruneImages(
  env: DockerEnv,
  records: Record<string, StepRecord>,
  ctx: StepContext,
): Promise<void> {
  const candidates = new Set(Object.values(records).flatMap((r) => (r.status === 'done' && r.image ? [r.image] : [])));
  if (candidates.size === 0) return;
  const wanted = new Set(env.opts.keepImages?.() ?? []);
  for (const app of ctx.desired?.apps ?? []) for (const s of app.services) wanted.add(s.config.image);
  for (const ref of candidates) {
    if (wanted.has(ref)) continue;
    try {
      await env.engine.call((d) => d.getImage(ref).remove());
      ctx.log.info({ image: ref }, `pruned image ${ref}, which nothing uses any more`);
    } catch (err) {
      // 409: another container uses it; 404: already gone. Either way it is not ours to force.
      if (statusOf(err) !== 409 && statusOf(err) !== 404) throw err;
    }
  }
}

export const IMAGE_STEPS = {
  pull: {
    run: async (env, step, ctx) => {
      const o = env.opts;
      await pullImage(env.engine, step.image, {
        ...(o.registryAuth ? { auth: o.registryAuth } : {}),
        ...(o.pullAttempts !== undefined ? { attempts: o.pullAttempts } : {}),
        ...(o.pullBackoffMs !== undefined ? { backoffMs: o.pullBackoffMs } : {}),
        log: ctx.log,
        ...(step.platform ? { platform: step.platform } : {}),
      });
      return {};
    },
    // An image pulled stays: the next plan may want it, and pruning is finalize's.
    undo: keep,
  },
} satisfies HandlerTable<'pull', DockerEnv>;
