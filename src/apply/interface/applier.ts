// The update-interface applier: device components (the gateway's rootfs, attached RTOS devices,
// anything with an update-interface executable or a Mender Update Module) driven through the
// Mender Orchestrator protocol, one plan step per protocol phase, one handler per step:
//   download (prepare)  artifact fetched and verified, queries, Download   undo: Cleanup
//   install             ArtifactInstall                                      undo: ArtifactRollback,
//                                                      rollback reboot + verify, ArtifactFailure
//   reboot              ArtifactReboot + ArtifactVerifyReboot, or a gateway reboot (Automatic)
//   commit (finalize)   ArtifactCommit
//   cleanup (finalize)  Cleanup

import { statePath } from '../../base/state-dir.js';
import { isComponentStep, type ComponentStepKind, type ObservedComponent, type Step } from '../../model/index.js';
import type { RepoSource } from '../../manifest/index.js';
import type { Log } from '../../base/log.js';
import type { Applier, StepContext, StepRecord } from '../applier.js';
import { keep, runStep, undoStep, type HandlerTable, type StepResult } from '../step-handlers.js';
import { ArtifactCache, DEFAULT_DOWNLOAD } from './artifact-cache.js';
import type { ComponentRecord } from './component-record.js';
import { download, fetchArtifact, targetOf, undoDownload } from './download-step.js';
import { InterfaceEnv, type InterfaceApplierOptions } from './env.js';
import { cleanup, commit, install, reboot, verifyAfterReboot, willReboot } from './install-steps.js';
import { observeOne, records } from './observe.js';
import type { InterfaceTarget } from './protocol.js';
import { undoInstall } from './rollback.js';

export {
  DEFAULT_REBOOT_COMMAND,
  DEFAULT_TIMEOUTS,
  timeoutOf,
  type InterfaceApplierOptions,
  type InterfaceTimeouts,
} from './env.js';
export { targetOf } from './download-step.js';

import { DEFAULT_CACHE_BYTES } from './defaults.js';

export { DEFAULT_CACHE_BYTES, DEFAULT_INTERFACE_DIRS } from './defaults.js';

const STEPS = {
  download: { run: download, undo: (env, step, _rec, ctx) => undoDownload(env, step, ctx) },
  install: { run: install, undo: (env, step, _rec, ctx) => undoInstall(env, step, ctx) },
  // Reboot and commit are undone by the install's rollback; cleanup runs only once the change is confirmed.
  reboot: { run: reboot, undo: keep },
  commit: { run: commit, undo: keep },
  cleanup: { run: cleanup, undo: keep },
} satisfies HandlerTable<ComponentStepKind, InterfaceEnv>;

/** The component steps; a container step reaching this applier is a fault of the runner. */
function componentStep(step: Step) {
  if (!isComponentStep(step)) throw new Error(`the interface applier does not run ${step.kind} steps`);
  return step;
}

export class InterfaceApplier implements Applier {
  readonly name = 'update interfaces';
  readonly cache: ArtifactCache;
  private readonly env: InterfaceEnv;

  /**
   * @param repo the fleet repo artifacts are read from; `forRepo` binds one
   * @param cache shared by the copies `forRepo` makes
   */
  constructor(
    private readonly opts: InterfaceApplierOptions,
    readonly repo?: RepoSource,
    cache?: ArtifactCache,
  ) {
    this.cache =
      cache ??
      new ArtifactCache(statePath(opts.stateDir, 'artifacts'), opts.cacheMaxBytes ?? DEFAULT_CACHE_BYTES, opts.log, {
        ...DEFAULT_DOWNLOAD,
        ...opts.download,
      });
    this.env = new InterfaceEnv(opts, this.cache, repo);
  }

  /** This applier reading artifacts from `repo`: a new applier sharing the cache; this one is unchanged. */
  forRepo(repo: RepoSource): InterfaceApplier {
    return new InterfaceApplier(this.opts, repo, this.cache);
  }

  handles(step: Step): boolean {
    return isComponentStep(step);
  }

  /** The executable of an interface: the first of the interface directories that has it. */
  executable(name: string): Promise<string> {
    return this.env.executable(name);
  }

  /** Each component's identity and version, from its interface (`Identity`, `Provides`, `Inventory`). */
  async observe(components: InterfaceTarget[], log: Log, deviceType = ''): Promise<ObservedComponent[]> {
    const out: ObservedComponent[] = [];
    for (const c of components) out.push(await observeOne(this.env, targetOf(c), log, deviceType));
    return out;
  }

  observeOne(t: InterfaceTarget, log: Log, deviceType = ''): Promise<ObservedComponent> {
    return observeOne(this.env, t, log, deviceType);
  }

  /** The components rollgate has a record of, for `rollgate observe` without a fleet repo. */
  async recorded(): Promise<InterfaceTarget[]> {
    return (await this.records()).map((r) => r.target);
  }

  /** Every component record, by key: what was last committed on each, and any update in flight. */
  records(): Promise<ComponentRecord[]> {
    return records(this.env);
  }

  run(step: Step, ctx: StepContext): Promise<StepResult> {
    return runStep(STEPS, this.env, componentStep(step), ctx);
  }

  undo(step: Step, record: StepRecord, ctx: StepContext): Promise<void> {
    return undoStep(STEPS, this.env, componentStep(step), record, ctx);
  }

  /**
   * An artifact fetched ahead of its window into the cache (checked against its sha256, and kept
   * from eviction until a transaction's end); the interface is not called: its Download is the
   * first state of the transaction, in the work directory the install reads.
   */
  async prefetch(step: Step, ctx: StepContext): Promise<boolean> {
    if (step.kind !== 'download') return false;
    const c = ctx.desired?.components.find((x) => x.key === step.target.key);
    if (!c) throw new Error(`component ${step.target.key} is not in the desired state`);
    await fetchArtifact(this.env, c, ctx.log);
    return true;
  }

  willReboot(step: Step): Promise<boolean> {
    return willReboot(this.env, componentStep(step).target);
  }

  rebootGateway(ctx: StepContext): Promise<void> {
    return this.env.rebootGateway(ctx);
  }

  verifyAfterReboot(step: Step, record: StepRecord, ctx: StepContext): Promise<void> {
    return verifyAfterReboot(this.env, componentStep(step).target, record, ctx);
  }

  afterFinalize(): Promise<void> {
    this.cache.unpinAll();
    return Promise.resolve();
  }
}
