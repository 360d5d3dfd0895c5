// What the Docker applier's step handlers share: the Engine, the applier's options, where mounted
// files live, and what the transaction in flight created; and the few helpers every resource uses.

import type { DesiredApp, DesiredService } from '../../model/index.js';
import type { GatewayPolicy } from '../../manifest/index.js';
import type { StepContext } from '../applier.js';
import type { HostPaths } from './container-spec.js';
import type { Engine } from './engine.js';
import { statusOf } from './errors.js';
import { LABEL } from './labels.js';
import type { RegistryAuth } from './pull.js';

export interface DockerApplierOptions {
  registryAuth?: RegistryAuth;
  pullAttempts?: number;
  pullBackoffMs?: number;
  /** Images to keep whatever happens, e.g. those of the last good commit. */
  keepImages?: () => string[];
  /** Overrides the deadline of depends_on waits (default: from the dependency's healthcheck). */
  waitDeadlineMs?: number;
  /** Where repo files and data directories that containers mount live (default: under /var/lib/rollgate). */
  paths?: HostPaths;
  /**
   * The identity of the state directory this applier works for: every object it creates carries
   * it, and it sees and removes only objects that carry it (or that predate owners).
   */
  owner?: string;
  /**
   * The gateway's policy: what it says about paths as they resolve on this gateway, and about
   * volumes rollgate did not make, is checked before the plan runs and before each container is
   * created. Absent: no policy, everything allowed.
   */
  policy?: GatewayPolicy;
  /** Longest a post_start or pre_stop hook may run (default 2 minutes / 30 seconds). */
  postStartTimeoutMs?: number;
  preStopTimeoutMs?: number;
}

export interface DockerEnv {
  readonly engine: Engine;
  readonly opts: DockerApplierOptions;
  readonly paths: HostPaths;
  /**
   * The container each service's `create` made in the transaction in flight, by `app/service`:
   * how `start` finds it without a lookup. Entries of an earlier transaction never match.
   */
  readonly created: Map<string, { txn: string; id: string }>;
  /** Volumes without rollgate's labels already reported as adopted: said once, not at every reconcile. */
  readonly reportedVolumes: Set<string>;
}

/** Status codes that mean "already so": repeating a step after a lost answer is not an error. */
export const ignore = async (p: Promise<unknown>, ...codes: number[]): Promise<void> => {
  try {
    await p;
  } catch (err) {
    if (!codes.includes(statusOf(err) ?? -1)) throw err;
  }
};

export function findApp(ctx: StepContext, app: string): DesiredApp {
  const a = ctx.desired?.apps.find((x) => x.name === app);
  if (!a) throw new Error(`app "${app}" is not in the desired state this step was planned from`);
  return a;
}

export function findService(ctx: StepContext, app: string, service: string): DesiredService {
  const s = findApp(ctx, app).services.find((x) => x.name === service);
  if (!s) throw new Error(`service "${app}/${service}" is not in the desired state this step was planned from`);
  return s;
}

/** The owner label every object this applier creates carries (none without an owner id). */
export function ownerLabel(env: DockerEnv): Record<string, string> {
  return env.opts.owner ? { [LABEL.owner]: env.opts.owner } : {};
}

/** The container holding `name`, when one does. */
export async function holder(
  env: DockerEnv,
  name: string,
): Promise<{ Id: string; Name: string; Config: { Labels?: Record<string, string> | null } } | undefined> {
  try {
    return await env.engine.call((d) => d.getContainer(name).inspect());
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}
