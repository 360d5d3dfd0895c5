// The Docker applier: runs and undoes the container steps of a plan through the Engine API.
// Every step is safe to repeat (the Engine may restart, the agent may be killed), and every
// object it creates carries the transaction's label so undo finds it even after a crash.

import { mkdir } from 'node:fs/promises';
import type Docker from 'dockerode';
import type { DesiredApp, DesiredService, Plan, ServiceHook, Step } from '../../model/index.js';
import {
  RefusedError,
  UndoImpossibleError,
  type Applier,
  type OutageWatch,
  type StepContext,
  type StepRecord,
} from '../applier.js';
import type { GatewayPolicy } from '../../manifest/index.js';
import type { Log } from '../../base/log.js';
import {
  bindSource,
  containerSpec,
  dataMountSource,
  endpointConfig,
  extraNetworks,
  hostPaths,
  type HostPaths,
} from './container-spec.js';
import { exists, pruneTrees, writeTree } from './files.js';
import { stopOrphanedTask } from './orphan-task.js';
import type { Engine } from './engine.js';
import { DockerError, engineMessage, isStuckContainer, portInUse, statusOf } from './errors.js';
import { LABEL, containerName, networkName, ownedBy, volumeName } from './labels.js';
import { observeDocker, preStopOf, type DockerObservation } from './observe.js';
import { hookLine, lastLine, runHook, runPreStop } from './hooks.js';
import { pullImage, registryOf, type RegistryAuth } from './pull.js';
import { healthyDeadlineMs, waitForDependency, waitReady } from './wait.js';
import { refuseHostBreaches } from './host-policy.js';

const KINDS = new Set([
  'pull',
  'write-files',
  'create-network',
  'recreate-network',
  'create-volume',
  'create',
  'stop',
  'start',
  'remove',
  'remove-network',
  'remove-volume',
]);

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

/** Where the container that gave up its container_name waits until the change is confirmed. */
const asideName = (name: string, txn: string) => `${name}-replaced-${txn.slice(0, 8)}`;
/** The new container's name until it takes the container_name. */
const pendingName = (name: string, txn: string) => `${name}-${txn.slice(0, 8)}`;

/** Status codes that mean "already so": repeating a step after a lost answer is not an error. */
const ignore = async (p: Promise<unknown>, ...codes: number[]): Promise<void> => {
  try {
    await p;
  } catch (err) {
    if (!codes.includes(statusOf(err) ?? -1)) throw err;
  }
};

function target(step: Step) {
  const t = step.target;
  if (t.kind === 'service' || t.kind === 'network' || t.kind === 'volume') return t;
  throw new Error(`step ${step.id} has no app target`);
}

function findApp(ctx: StepContext, app: string): DesiredApp {
  const a = ctx.desired?.apps.find((x) => x.name === app);
  if (!a) throw new Error(`app "${app}" is not in the desired state this step was planned from`);
  return a;
}

function findService(ctx: StepContext, app: string, service: string): DesiredService {
  const s = findApp(ctx, app).services.find((x) => x.name === service);
  if (!s) throw new Error(`service "${app}/${service}" is not in the desired state this step was planned from`);
  return s;
}

export class DockerApplier implements Applier {
  readonly name = 'docker';
  /**
   * The container each service's `create` made in the transaction in flight, by `app/service`:
   * how `start` finds it without a lookup. Entries of an earlier transaction never match.
   */
  private readonly created = new Map<string, { txn: string; id: string }>();

  readonly paths: HostPaths;
  /** Volumes without rollgate's labels already reported as adopted: said once, not at every reconcile. */
  private readonly reportedVolumes = new Set<string>();

  constructor(
    readonly engine: Engine,
    private readonly opts: DockerApplierOptions = {},
  ) {
    this.paths = opts.paths ?? hostPaths('/var/lib/rollgate');
  }

  handles(step: Step): boolean {
    return KINDS.has(step.kind);
  }

  /** Whether a volume of this name is on the gateway, made by something other than rollgate. */
  private async unmanagedVolume(name: string): Promise<boolean> {
    try {
      const v = (await this.engine.call((d) => d.getVolume(name).inspect())) as {
        Labels?: Record<string, string> | null;
      };
      return v.Labels?.[LABEL.app] === undefined;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  }

  /** The policy on this gateway's paths and volumes for one service (safety rule 9). */
  private async vetService(app: DesiredApp, svc: DesiredService): Promise<void> {
    if (!this.opts.policy) return;
    await refuseHostBreaches(app, svc, this.opts.policy, this.paths, {
      unmanaged: (name) => this.unmanagedVolume(name),
    });
  }

  /** Before anything runs: every container the plan creates, as its paths resolve here now. */
  async vet(plan: Plan, ctx: StepContext): Promise<void> {
    if (!this.opts.policy) return;
    for (const step of plan.stages.flatMap((s) => s.steps)) {
      if (step.kind !== 'create') continue;
      const t = target(step) as { app: string; service: string };
      await this.vetService(findApp(ctx, t.app), findService(ctx, t.app, t.service));
    }
  }

  observe(): Promise<DockerObservation> {
    return observeDocker(this.engine, this.opts.owner);
  }

  private get ownerLabel(): Record<string, string> {
    return this.opts.owner ? { [LABEL.owner]: this.opts.owner } : {};
  }

  /** Of these images on the gateway, those whose configuration defines no healthcheck. */
  async imagesWithoutHealthcheck(refs: string[]): Promise<string[]> {
    const out: string[] = [];
    for (const ref of refs) {
      const info = await this.engine.call((d) => d.getImage(ref).inspect()).catch(() => undefined);
      const test = (info?.Config as { Healthcheck?: { Test?: string[] } } | undefined)?.Healthcheck?.Test;
      if (info && (!test || test.length === 0 || test[0] === 'NONE')) out.push(ref);
    }
    return out;
  }

  /**
   * Of these image references, those whose tag names another digest in the registry than the
   * image on the gateway: one manifest request per image, made by the Engine with the registry
   * credentials. A registry that cannot be asked is logged and the image taken as it is.
   */
  async movedImages(refs: string[], log: Log): Promise<string[]> {
    const moved: string[] = [];
    const containers = (
      await this.engine.call((d) => d.listContainers({ all: true, filters: JSON.stringify({ label: [LABEL.app] }) }))
    ).filter((c) => ownedBy(c.Labels, this.opts.owner));
    // The list names a container's image by ID once its tag moved on the gateway: ask those what they were made from.
    const made = new Map<string, string>();
    for (const c of containers)
      made.set(
        c.Id,
        c.Image.startsWith('sha256:')
          ? ((await this.engine.call((d) => d.getContainer(c.Id).inspect()).catch(() => undefined))?.Config.Image ??
              c.Image)
          : c.Image,
      );
    for (const ref of refs) {
      // What runs is what counts: the images of the containers made from this reference.
      const ids = [...new Set(containers.filter((c) => made.get(c.Id) === ref).map((c) => c.ImageID))];
      if (ids.length === 0) continue; // nothing runs it yet: the plan pulls it anyway
      const auth = this.opts.registryAuth?.[registryOf(ref)];
      let remote: string | undefined;
      try {
        const info = await this.engine.call((d) =>
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
        const digests =
          (await this.engine.call((d) => d.getImage(id).inspect()).catch(() => undefined))?.RepoDigests ?? [];
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

  async run(step: Step, ctx: StepContext): Promise<Omit<StepRecord, 'status'>> {
    const e = this.engine;
    switch (step.kind) {
      case 'pull':
        await pullImage(e, step.image!, {
          ...(this.opts.registryAuth ? { auth: this.opts.registryAuth } : {}),
          ...(this.opts.pullAttempts !== undefined ? { attempts: this.opts.pullAttempts } : {}),
          ...(this.opts.pullBackoffMs !== undefined ? { backoffMs: this.opts.pullBackoffMs } : {}),
          log: ctx.log,
          ...(step.platform ? { platform: step.platform } : {}),
        });
        return {};
      case 'write-files': {
        const t = step.target as { app: string; hash: string };
        const tree = findApp(ctx, t.app).files?.find((f) => f.hash === t.hash);
        if (!tree)
          throw new Error(
            `files ${t.hash.slice(0, 12)} of app "${t.app}" are not in the desired state this step was planned from`,
          );
        if (await writeTree(this.paths.files, t.app, tree))
          ctx.log.info(
            { app: t.app, files: t.hash.slice(0, 12), count: tree.entries.length },
            `wrote ${tree.entries.length} file(s) of ${t.app} from the fleet repo`,
          );
        return {};
      }
      case 'create-network': {
        const t = target(step) as { app: string; name: string };
        await this.createNetwork(step, t, ctx);
        return {};
      }
      case 'recreate-network': {
        const t = target(step) as { app: string; name: string };
        const net = findApp(ctx, t.app).networks.find((n) => n.name === t.name);
        const name = step.engineName ?? networkName(t.app, t.name);
        const cur = await this.networkInfo(name);
        if (cur && cur.Labels?.[LABEL.configHash] === net?.configHash) return {}; // made again already (a repeat)
        if (cur) {
          try {
            await ignore(
              e.call((d) => d.getNetwork(name).remove()),
              404,
            );
          } catch (err) {
            throw new DockerError(
              'engine',
              `network ${name} of ${t.app} could not be removed to be made again: ${engineMessage(err)} (a ` +
                `container that rollgate does not manage may still be on it)`,
            );
          }
        }
        await this.createNetwork(step, t, ctx);
        ctx.log.info(
          { app: t.app, network: name },
          `network ${name} of ${t.app} was made again with its new definition`,
        );
        return {};
      }
      case 'create-volume': {
        const t = target(step) as { app: string; name: string };
        const vol = findApp(ctx, t.app).volumes.find((v) => v.name === t.name);
        const name = step.engineName ?? volumeName(t.app, t.name);
        // Ownership is read from the volume itself (the create call's answer carries no labels):
        // before, so nothing of another owner is touched, and after, in case another made it meanwhile.
        const before = await this.volumeInfo(name);
        if (before) {
          this.volumeOwnership(name, t, before.Labels, ctx.log);
          return {};
        }
        // Creating an existing volume returns it unchanged: its data is never at risk here.
        await e.call((d) =>
          d.createVolume({
            Name: name,
            Driver: vol?.driver ?? 'local',
            ...(vol?.driverOpts ? { DriverOpts: vol.driverOpts } : {}),
            Labels: {
              ...(vol?.labels ?? {}),
              [LABEL.app]: t.app,
              [LABEL.volume]: t.name,
              [LABEL.txn]: ctx.txn,
              ...this.ownerLabel,
              ...(vol?.configHash ? { [LABEL.configHash]: vol.configHash } : {}),
            },
          }),
        );
        const after = await this.volumeInfo(name);
        if (!after) throw new DockerError('engine', `volume ${name} was created, but the Engine does not show it`);
        this.volumeOwnership(name, t, after.Labels, ctx.log);
        return {};
      }
      case 'create':
        return this.create(step, ctx);
      case 'stop': {
        await this.preStop(step.containerId!, ctx);
        await ignore(
          e.call((d) => d.getContainer(step.containerId!).stop()),
          304,
          404,
        );
        return { containerId: step.containerId! };
      }
      case 'start':
        return this.start(step, ctx);
      case 'remove': {
        let image: string | undefined;
        try {
          image = (await e.call((d) => d.getContainer(step.containerId!).inspect())).Config.Image;
        } catch (err) {
          if (statusOf(err) === 404) return { containerId: step.containerId! };
          throw err;
        }
        await ignore(
          e.call((d) => d.getContainer(step.containerId!).remove({ force: true, v: false })),
          404,
          409,
        );
        return { containerId: step.containerId!, ...(image ? { image } : {}) };
      }
      case 'remove-network': {
        const t = target(step) as { app: string; name: string };
        await ignore(
          e.call((d) => d.getNetwork(step.engineName ?? networkName(t.app, t.name)).remove()),
          404,
        );
        return {};
      }
      case 'remove-volume': {
        const t = target(step) as { app: string; name: string };
        await ignore(
          e.call((d) => d.getVolume(step.engineName ?? volumeName(t.app, t.name)).remove()),
          404,
        );
        return {};
      }
      default:
        throw new Error(`the Docker applier does not execute "${step.kind}" steps`);
    }
  }

  /** A volume as the Engine reports it, or undefined when there is none of that name. */
  private async volumeInfo(name: string): Promise<{ Labels?: Record<string, string> | null } | undefined> {
    try {
      return (await this.engine.call((d) => d.getVolume(name).inspect())) as { Labels?: Record<string, string> | null };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /**
   * Whether an existing volume may be used as `app`'s volume `key`: refused (DockerError naming it)
   * when it belongs to another rollgate instance or to another of this instance's volumes; used
   * when it is this one; adopted, and reported once, when it carries no rollgate labels (a volume a
   * `docker compose` of the same project left, with its data). Returns whether it was adopted.
   */
  volumeOwnership(
    name: string,
    v: { app: string; name: string },
    labels: Record<string, string> | null | undefined,
    log: Log,
  ): 'own' | 'adopted' {
    const owner = labels?.[LABEL.owner];
    if (owner !== undefined && !ownedBy(labels, this.opts.owner))
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
    if (!this.mayAdopt(name))
      throw new RefusedError(
        'forbidden',
        `forbidden by this gateway's policy.externalVolumes: volume ${name} of ${v.app} is already on the ` +
          `gateway and rollgate did not make it; using it is not allowed ` +
          `(allowed: ${this.opts.policy?.externalVolumes?.join(', ') || 'none'})`,
      );
    if (!this.reportedVolumes.has(name)) {
      this.reportedVolumes.add(name);
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

  /** Whether a volume rollgate did not make may be used (under a policy: when policy.externalVolumes names it). */
  private mayAdopt(name: string): boolean {
    return !this.opts.policy || (this.opts.policy.externalVolumes ?? []).includes(name);
  }

  /**
   * Of the desired volumes the Engine's labels did not show, those that exist without rollgate's
   * labels: adopted as they are (reported once), so they are not planned again at every reconcile.
   * Another owner's are left out; creating them is refused by name.
   */
  async adoptVolumes(
    wanted: { app: string; name: string; engineName?: string }[],
    log: Log,
  ): Promise<{ app: string; name: string; engineName?: string; unlabelled: true }[]> {
    const out: { app: string; name: string; engineName?: string; unlabelled: true }[] = [];
    for (const w of wanted) {
      const name = w.engineName ?? volumeName(w.app, w.name);
      const info = await this.volumeInfo(name);
      if (!info || info.Labels?.[LABEL.app] !== undefined || info.Labels?.[LABEL.owner] !== undefined) continue;
      // Not adopted in observation: its create step is planned, and refused there by name.
      if (!this.mayAdopt(name)) continue;
      this.volumeOwnership(name, w, info.Labels, log);
      out.push({ app: w.app, name: w.name, ...(w.engineName ? { engineName: w.engineName } : {}), unlabelled: true });
    }
    return out;
  }

  /** A network as the Engine reports it, or undefined when there is none of that name. */
  private async networkInfo(
    name: string,
  ): Promise<{ Id: string; Labels?: Record<string, string> | undefined } | undefined> {
    try {
      return await this.engine.call((d) => d.getNetwork(name).inspect());
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  private async createNetwork(step: Step, t: { app: string; name: string }, ctx: StepContext): Promise<void> {
    const e = this.engine;
    const net = findApp(ctx, t.app).networks.find((n) => n.name === t.name);
    const name = step.engineName ?? networkName(t.app, t.name);
    const ipam = net?.ipam
      ? {
          IPAM: {
            Driver: net.ipam.driver ?? 'default',
            Config: net.ipam.config.map((c) => ({
              ...(c.subnet ? { Subnet: c.subnet } : {}),
              ...(c.ipRange ? { IPRange: c.ipRange } : {}),
              ...(c.gateway ? { Gateway: c.gateway } : {}),
              ...(c.auxAddresses ? { AuxiliaryAddresses: c.auxAddresses } : {}),
            })),
            ...(net.ipam.options ? { Options: net.ipam.options } : {}),
          },
        }
      : {};
    try {
      await e.call((d) =>
        d.createNetwork({
          Name: name,
          CheckDuplicate: true,
          Driver: net?.driver ?? 'bridge',
          Internal: net?.internal ?? false,
          ...(net?.attachable ? { Attachable: true } : {}),
          ...(net?.enableIpv6 !== undefined ? { EnableIPv6: net.enableIpv6 } : {}),
          ...(net?.driverOpts ? { Options: net.driverOpts } : {}),
          ...ipam,
          Labels: {
            ...(net?.labels ?? {}),
            [LABEL.app]: t.app,
            [LABEL.network]: t.name,
            [LABEL.txn]: ctx.txn,
            ...this.ownerLabel,
            ...(net?.configHash ? { [LABEL.configHash]: net.configHash } : {}),
          },
        }),
      );
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
      const info = await e.call((d) => d.getNetwork(name).inspect());
      if (info.Labels?.[LABEL.app] === t.app && !ownedBy(info.Labels, this.opts.owner))
        throw new DockerError(
          'engine',
          `a network named ${name} belongs to another rollgate instance (state directory owner ` +
            `${info.Labels?.[LABEL.owner]}); it is left alone: rename the app or remove that instance's app`,
        );
      if (info.Labels?.[LABEL.app] !== t.app)
        throw new DockerError(
          'engine',
          `a network named ${name} already exists and rollgate does not manage it; remove or rename it`,
        );
    }
  }

  /**
   * Undo of a recreate: the network made in this transaction goes, the one there was before is
   * made again as it was, and the containers that were on it are put back on it (a container
   * holds the ID of its network, so the old containers would not start on the new one otherwise).
   */
  private async restoreNetwork(step: Step, ctx: StepContext): Promise<void> {
    const e = this.engine;
    const t = target(step) as { app: string; name: string };
    const name = step.engineName ?? networkName(t.app, t.name);
    const cur = await this.networkInfo(name);
    if (cur && cur.Labels?.[LABEL.txn] !== ctx.txn) return; // never replaced: nothing to undo
    if (!step.previous)
      throw new UndoImpossibleError(
        `network ${name} of ${t.app} was made again and its previous settings are unknown; recreate it by hand`,
      );
    if (cur)
      await ignore(
        e.call((d) => d.getNetwork(name).remove()),
        404,
      );
    const p = step.previous;
    await e.call((d) =>
      d.createNetwork({
        Name: name,
        CheckDuplicate: true,
        Driver: p.driver,
        Internal: p.internal,
        Attachable: p.attachable,
        EnableIPv6: p.enableIpv6,
        Options: p.options,
        Labels: p.labels,
        IPAM: { Driver: p.ipam.driver, Config: p.ipam.config, Options: p.ipam.options },
      }),
    );
    const id = (await e.call((d) => d.getNetwork(name).inspect())).Id;
    for (const c of await e.call((d) =>
      d.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL.app}=${t.app}`] }) }),
    )) {
      const info = await e.call((d) => d.getContainer(c.Id).inspect());
      const ep = info.NetworkSettings.Networks?.[name];
      if (!ep || ep.NetworkID === id) continue;
      // The Engine adds the short id itself.
      const aliases = (ep.Aliases ?? []).filter((a: string) => !c.Id.startsWith(a));
      await ignore(
        e.call((d) => d.getNetwork(name).disconnect({ Container: c.Id, Force: true })),
        404,
        500,
      );
      await ignore(
        e.call((d) => d.getNetwork(name).connect({ Container: c.Id, EndpointConfig: { Aliases: aliases } })),
        409,
        403,
      );
    }
    ctx.log.info({ app: t.app, network: name }, `network ${name} of ${t.app} is back as it was, with its containers`);
  }

  /** Everything a container's mounts need on the host: repo files, data directories, host paths. */
  private async prepareMounts(app: DesiredApp, svc: DesiredService, ctx: StepContext): Promise<void> {
    for (const hash of svc.config.files ?? []) {
      const tree = app.files?.find((f) => f.hash === hash);
      if (tree && (await writeTree(this.paths.files, app.name, tree)))
        ctx.log.warn(
          { app: app.name, files: hash.slice(0, 12) },
          `files ${hash.slice(0, 12)} of ${app.name} were missing and were written again`,
        );
    }
    for (const v of svc.config.volumes) {
      if (v.type !== 'bind' || v.repo) continue;
      // Compose creates a missing bind source as a directory; so do we (data directories included).
      const src =
        v.data !== undefined ? dataMountSource(this.paths, app.name, v.data) : bindSource(this.paths, app.name, v)!;
      if (!(await exists(src))) await mkdir(src, { recursive: true });
    }
  }

  /**
   * `volumes_from: [service]` names a service; the Engine wants the container that runs it now —
   * one of this state directory's: another instance's app of the same name is not this app.
   */
  private async volumesFrom(app: string, svc: DesiredService, ctx: StepContext): Promise<string[] | undefined> {
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
      const list = (await this.engine.call((d) => d.listContainers({ all: true, filters }))).filter((c) =>
        ownedBy(c.Labels, this.opts.owner),
      );
      // The container of the source's desired configuration (just made, in a plan that replaces it), else the
      // one that runs.
      const wanted = ctx.desired?.apps
        .find((a) => a.name === app)
        ?.services.find((x) => x.name === service)?.configHash;
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

  /** The container holding `name`, when one does. */
  private async holder(
    name: string,
  ): Promise<{ Id: string; Name: string; Config: { Labels?: Record<string, string> | null } } | undefined> {
    try {
      return await this.engine.call((d) => d.getContainer(name).inspect());
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  private async create(step: Step, ctx: StepContext): Promise<Omit<StepRecord, 'status'>> {
    const t = target(step) as { app: string; service: string };
    const app = findApp(ctx, t.app);
    const svc = findService(ctx, t.app, t.service);
    const id = {
      app: t.app,
      service: t.service,
      configHash: svc.configHash,
      txn: ctx.txn,
      ...(ctx.desired?.source.commit ? { commit: ctx.desired.source.commit } : {}),
      ...(this.opts.owner ? { owner: this.opts.owner } : {}),
    };
    // Before a missing bind source is made (mkdir follows links too), and again just before the create.
    await this.vetService(app, svc);
    await this.prepareMounts(app, svc, ctx);
    const cn = svc.config.containerName;
    if (cn) {
      // A container_name held by a container rollgate does not manage (one `docker compose up` made,
      // say) is reported before anything stops: rollgate never removes what it does not own.
      const h = await this.holder(cn);
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
      if (h && !ownedBy(h.Config.Labels, this.opts.owner))
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
    const volumesFrom = await this.volumesFrom(t.app, svc, ctx);
    const make = (name: string) => {
      const spec = containerSpec(id, svc.config, name, this.paths);
      if (volumesFrom) spec.HostConfig = { ...spec.HostConfig, VolumesFrom: volumesFrom };
      return spec;
    };
    await this.vetService(app, svc);
    // With a container_name, the new container waits under another name until `start` moves the name.
    let spec = make(cn ?? containerName(t.app, t.service, svc.configHash));
    let containerId: string;
    try {
      containerId = (await this.engine.call((d) => d.createContainer(spec))).id;
    } catch (err) {
      if (statusOf(err) === 404)
        throw new DockerError(
          'image-not-found',
          `image ${svc.config.image} of ${t.app}/${t.service} is not on the gateway: ${engineMessage(err)}`,
        );
      if (statusOf(err) !== 409)
        throw new DockerError(
          'engine',
          `could not create the container of ${t.app}/${t.service}: ${engineMessage(err)}`,
        );
      // The name is taken: by this transaction (a retry after a lost answer) or by a leftover.
      const existing = await this.engine.call((d) => d.getContainer(spec.name!).inspect());
      if (existing.Config.Labels?.[LABEL.txn] === ctx.txn) containerId = existing.Id;
      else {
        const other = cn
          ? pendingName(cn, ctx.txn)
          : `${containerName(t.app, t.service, svc.configHash)}-${ctx.txn.slice(0, 6)}`;
        const again = await this.holder(other);
        if (again?.Config.Labels?.[LABEL.txn] === ctx.txn) containerId = again.Id;
        else {
          spec = make(other);
          containerId = (await this.engine.call((d) => d.createContainer(spec))).id;
        }
      }
    }
    this.created.set(`${t.app}/${t.service}`, { txn: ctx.txn, id: containerId });
    for (const net of extraNetworks(t.app, svc.config)) {
      await ignore(
        this.engine.call((d) =>
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

  /** The container a `start` step means: the one it names, or the one this transaction created. */
  private async startTarget(step: Step, txn: string): Promise<string | undefined> {
    const t = target(step) as { app: string; service: string };
    if (step.containerId) return step.containerId;
    const mine = this.created.get(`${t.app}/${t.service}`);
    if (mine?.txn === txn) return mine.id;
    const filters = JSON.stringify({
      label: [`${LABEL.txn}=${txn}`, `${LABEL.app}=${t.app}`, `${LABEL.service}=${t.service}`],
    });
    return (await this.engine.call((d) => d.listContainers({ all: true, filters })))[0]?.Id;
  }

  private async start(step: Step, ctx: StepContext): Promise<Omit<StepRecord, 'status'>> {
    const t = target(step) as { app: string; service: string };
    const containerId = await this.startTarget(step, ctx.txn);
    if (!containerId) throw new Error(`the container of ${t.app}/${t.service} to start was not found`);
    for (const w of step.waitFor ?? []) {
      if (w.condition === 'ready') continue; // after the start, below
      const dep = findService(ctx, t.app, w.service);
      ctx.log.info(
        { app: t.app, service: t.service, waitsFor: w.service, condition: w.condition },
        `${t.app}/${t.service} waits for ${w.service} (${w.condition})`,
      );
      await waitForDependency(this.engine, {
        app: t.app,
        service: t.service,
        dependency: dep,
        condition: w.condition,
        deadlineMs: this.opts.waitDeadlineMs ?? healthyDeadlineMs(dep),
      });
    }
    // The Engine resolves bind sources when the container starts, not when it is made: a link
    // planted since the create (while this start waited, say) is caught here.
    await this.vetService(findApp(ctx, t.app), findService(ctx, t.app, t.service));
    if (step.containerName) await this.takeName(step.containerName, containerId, t, ctx.txn);
    let runs: string;
    try {
      runs = await this.startContainer(containerId, `${t.app}/${t.service}`, ctx);
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
    if (runs !== containerId) this.created.set(`${t.app}/${t.service}`, { txn: ctx.txn, id: runs });
    ctx.log.info({ app: t.app, service: t.service, container: runs.slice(0, 12) }, `started ${t.app}/${t.service}`);
    await this.postStart(runs, findService(ctx, t.app, t.service).config.postStart ?? [], t, ctx);
    if (step.waitFor?.some((w) => w.condition === 'ready')) {
      const self = findService(ctx, t.app, t.service);
      await waitReady(this.engine, {
        app: t.app,
        service: t.service,
        containerId: runs,
        deadlineMs: this.opts.waitDeadlineMs ?? healthyDeadlineMs(self),
      });
      ctx.log.info(
        { app: t.app, service: t.service },
        `${t.app}/${t.service} is ready; its previous container stops now (start-first)`,
      );
    }
    return { containerId: runs };
  }

  /**
   * Starts a container and resolves to the one that runs: itself, or — when its task outlived an
   * Engine restart and it can never start again — a copy made from its own definition (every
   * setting and label, so it is the same service and configuration), which takes its name.
   */
  private async startContainer(id: string, who: string, ctx: StepContext): Promise<string> {
    try {
      await ignore(
        this.engine.call((d) => d.getContainer(id).start()),
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
        (await this.engine.call((d) => d.getContainer(id).inspect())).HostConfig.CgroupParent,
      );
      if (stopped.length)
        ctx.log.warn(
          { container: id.slice(0, 12), pids: stopped },
          `stopped ${stopped.length} process(es) of the task ${who} had left running`,
        );
      const made = await this.recreate(id);
      await ignore(
        this.engine.call((d) => d.getContainer(made).start()),
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
  private async recreate(id: string): Promise<string> {
    const info = await this.engine.call((d) => d.getContainer(id).inspect());
    const name = info.Name.replace(/^\//, '');
    const spare = `${name}-recreated`;
    const left = await this.holder(spare);
    if (left)
      await ignore(
        this.engine.call((d) => d.getContainer(left.Id).remove({ force: true, v: false })),
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
      await this.engine.call((d) =>
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
        this.engine.call((d) => d.getNetwork(net).connect({ Container: made, EndpointConfig: endpoint(ep) })),
        409,
        403,
      );
    }
    await ignore(
      this.engine.call((d) => d.getContainer(id).remove({ force: true, v: false })),
      404,
    );
    await this.engine.call((d) => d.getContainer(made).rename({ name }));
    return made;
  }

  watch(): OutageWatch {
    return this.engine.watch();
  }

  async awaitAvailable(): Promise<void> {
    await this.engine.waitUntilAnswering();
  }

  /**
   * After the Engine went away and came back: a container a step started runs again (the Engine
   * stopped it on its way down, and brings back only those with a restart policy), and one a step
   * stopped is stopped again (`restart: always` brings it back with the Engine).
   */
  async resettle(step: Step, rec: StepRecord, ctx: StepContext): Promise<Omit<StepRecord, 'status'> | undefined> {
    if (step.kind !== 'start' && step.kind !== 'stop') return undefined;
    const t = target(step) as { app: string; service: string };
    const who = `${t.app}/${t.service}`;
    const id = step.kind === 'stop' ? step.containerId : (rec.containerId ?? (await this.startTarget(step, ctx.txn)));
    if (!id) return undefined;
    let state: { Running: boolean; Restarting: boolean };
    try {
      state = (await this.engine.call((d) => d.getContainer(id).inspect())).State;
    } catch (err) {
      if (statusOf(err) === 404 && step.kind === 'stop') return undefined;
      throw err;
    }
    if (step.kind === 'stop') {
      if (!state.Running && !state.Restarting) return undefined;
      await ignore(
        this.engine.call((d) => d.getContainer(id).stop()),
        304,
        404,
      );
      ctx.log.info(
        { app: t.app, service: t.service },
        `the replaced container of ${who} came back with the Engine; stopped again`,
      );
      return undefined;
    }
    if (state.Running) return undefined;
    const runs = await this.startContainer(id, who, ctx);
    ctx.log.info(
      { app: t.app, service: t.service, container: runs.slice(0, 12) },
      `${who} was stopped when the Engine went away; started again`,
    );
    return runs === id ? undefined : { containerId: runs };
  }

  /** post_start hooks, in order: a failure (or one that does not end) fails the start, which is then undone. */
  private async postStart(
    containerId: string,
    hooks: readonly ServiceHook[],
    t: { app: string; service: string },
    ctx: StepContext,
  ): Promise<void> {
    const timeoutMs = this.opts.postStartTimeoutMs ?? 120_000;
    for (const [i, h] of hooks.entries()) {
      const r = await runHook(this.engine, containerId, h, timeoutMs);
      const what = `post_start hook ${i + 1} of ${t.app}/${t.service} (${hookLine(h)})`;
      if (r.exitCode === undefined) throw new DockerError('hook', `${what} did not end within ${timeoutMs / 1000} s`);
      if (r.exitCode !== 0)
        throw new DockerError('hook', `${what} exited with code ${r.exitCode}: ${lastLine(r.output) || 'no output'}`);
      ctx.log.info({ app: t.app, service: t.service, hook: hookLine(h) }, `${what} ran`);
    }
  }

  /** The pre_stop hooks a running container was created with, before it stops. */
  private async preStop(containerId: string, ctx: StepContext): Promise<void> {
    const info = await this.engine.call((d) => d.getContainer(containerId).inspect()).catch(() => undefined);
    const hooks = preStopOf(info?.Config.Labels?.[LABEL.preStop]);
    if (!info?.State.Running || !hooks) return;
    const who = `${info.Config.Labels?.[LABEL.app]}/${info.Config.Labels?.[LABEL.service]}`;
    await runPreStop(this.engine, containerId, hooks, this.opts.preStopTimeoutMs ?? 30_000, who, ctx.log);
  }

  /** Moves the container_name to the new container: the holder (the one it replaces) steps aside. */
  private async takeName(
    name: string,
    containerId: string,
    t: { app: string; service: string },
    txn: string,
  ): Promise<void> {
    const h = await this.holder(name);
    if (h?.Id === containerId) return;
    if (h) {
      if (h.Config.Labels?.[LABEL.app] !== t.app || h.Config.Labels?.[LABEL.service] !== t.service) {
        throw new DockerError(
          'engine',
          `container_name "${name}" of ${t.app}/${t.service} is taken by ` +
            `container ${h.Name.replace(/^\//, '')}, which rollgate does not manage for this service`,
        );
      }
      await this.engine.call((d) => d.getContainer(h.Id).rename({ name: asideName(name, txn) }));
    }
    await this.engine.call((d) => d.getContainer(containerId).rename({ name }));
  }

  /** Undoes takeName: the new container gives the name back to the one it replaced. */
  private async giveNameBack(name: string, containerId: string | undefined, txn: string): Promise<void> {
    const h = await this.holder(name);
    if (h && h.Id === containerId)
      await this.engine.call((d) => d.getContainer(h.Id).rename({ name: pendingName(name, txn) }));
    const aside = await this.holder(asideName(name, txn));
    if (aside && (!h || h.Id === containerId)) await this.engine.call((d) => d.getContainer(aside.Id).rename({ name }));
  }

  async undo(step: Step, rec: StepRecord, ctx: StepContext): Promise<void> {
    const e = this.engine;
    switch (step.kind) {
      case 'pull':
      case 'create-volume': // a volume may hold data written since; it is kept (safety rule 2)
      case 'remove':
      case 'remove-network':
      case 'remove-volume':
        return;
      case 'recreate-network':
        return this.restoreNetwork(step, ctx);
      case 'create-network': {
        const t = target(step) as { app: string; name: string };
        const name = step.engineName ?? networkName(t.app, t.name);
        let labels: Record<string, string> | undefined;
        try {
          labels = (await e.call((d) => d.getNetwork(name).inspect())).Labels;
        } catch (err) {
          if (statusOf(err) === 404) return;
          throw err;
        }
        if (labels?.[LABEL.txn] === ctx.txn)
          await ignore(
            e.call((d) => d.getNetwork(name).remove()),
            404,
          );
        return;
      }
      case 'create': {
        // Found by label, so a create the crash cut short (no id in the journal) is found too.
        const t = target(step) as { app: string; service: string };
        const filters = JSON.stringify({
          label: [`${LABEL.txn}=${ctx.txn}`, `${LABEL.app}=${t.app}`, `${LABEL.service}=${t.service}`],
        });
        for (const c of await e.call((d) => d.listContainers({ all: true, filters }))) {
          await ignore(
            e.call((d) => d.getContainer(c.Id).remove({ force: true, v: false })),
            404,
            409,
          );
        }
        return;
      }
      case 'start': {
        // Stop what was started, so the container it replaced can have its ports back.
        const id = rec.containerId ?? (await this.startTarget(step, ctx.txn));
        if (id)
          await ignore(
            e.call((d) => d.getContainer(id).stop({ t: 5 })),
            304,
            404,
          );
        // A repair start (step.containerId) never moved a name.
        if (step.containerName && !step.containerId) await this.giveNameBack(step.containerName, id, ctx.txn);
        return;
      }
      case 'stop': {
        const t = target(step) as { app: string; service: string };
        try {
          await this.startContainer(step.containerId!, `the previous container of ${t.app}/${t.service}`, ctx);
        } catch (err) {
          if (err instanceof DockerError && err.kind === 'engine-unreachable') throw err;
          if (statusOf(err) === 404)
            throw new DockerError(
              'engine',
              `the container ${step.containerId!.slice(0, 12)} of ${t.app}/${t.service} is gone and cannot be ` +
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
        return;
      }
      default:
        return;
    }
  }

  /** Prunes the images of containers this apply removed, unless still wanted or in use. */
  async afterFinalize(_plan: Plan, records: Record<string, StepRecord>, ctx: StepContext): Promise<void> {
    await this.pruneFiles(ctx);
    const candidates = new Set(
      Object.values(records).flatMap((r) => (r.status === 'done' && r.image ? [r.image] : [])),
    );
    if (candidates.size === 0) return;
    const keep = new Set(this.opts.keepImages?.() ?? []);
    for (const app of ctx.desired?.apps ?? []) for (const s of app.services) keep.add(s.config.image);
    for (const ref of candidates) {
      if (keep.has(ref)) continue;
      try {
        await this.engine.call((d) => d.getImage(ref).remove());
        ctx.log.info({ image: ref }, `pruned image ${ref}, which nothing uses any more`);
      } catch (err) {
        // 409: another container uses it; 404: already gone. Either way it is not ours to force.
        if (statusOf(err) !== 409 && statusOf(err) !== 404) throw err;
      }
    }
  }

  /** Copies of repo files that neither the desired state nor any container still uses. */
  private async pruneFiles(ctx: StepContext): Promise<void> {
    if (!ctx.desired) return; // a resumed apply: the next one prunes, knowing what is wanted
    const keep = new Set<string>();
    for (const app of ctx.desired.apps) for (const f of app.files ?? []) keep.add(`${app.name}/${f.hash}`);
    const root = this.paths.files + '/';
    for (const c of await this.engine.call((d) =>
      d.listContainers({ all: true, filters: JSON.stringify({ label: [LABEL.app] }) }),
    )) {
      for (const m of c.Mounts ?? [])
        if (m.Source?.startsWith(root)) keep.add(m.Source.slice(root.length).split('/').slice(0, 2).join('/'));
    }
    const removed = await pruneTrees(this.paths.files, (app, hash) => keep.has(`${app}/${hash}`));
    if (removed.length)
      ctx.log.info(
        { removed },
        `removed ${removed.length} cop${removed.length === 1 ? 'y' : 'ies'} of fleet repo files that nothing ` +
          `uses any more`,
      );
  }
}
