// The Docker applier: runs and undoes the container steps of a plan through the Engine API, one
// handler per kind of step, split by what they act on (images, files, networks, volumes,
// containers). Every step is safe to repeat (the Engine may restart, the agent may be killed),
// and every object it creates carries the transaction's label so undo finds it even after a crash.

import { isContainerStep, type Plan, type Step } from '../../model/index.js';
import type { Applier, OutageWatch, StepContext, StepRecord } from '../applier.js';
import type { Log } from '../../base/log.js';
import { resettleStep, runStep, undoStep, type HandlerTable, type StepResult } from '../step-handlers.js';
import type { ContainerStepKind } from '../../model/index.js';
import { hostPaths, type HostPaths } from './container-spec.js';
import { CONTAINER_STEPS } from './container-steps.js';
import type { Engine } from './engine.js';
import { findApp, findService, type DockerApplierOptions, type DockerEnv } from './env.js';
import { FILE_STEPS, pruneFiles } from './file-steps.js';
import { vetService } from './host-policy.js';
import { IMAGE_STEPS, imagesWithoutHealthcheck, movedImages, pruneImages } from './image-steps.js';
import { NETWORK_STEPS } from './network-steps.js';
import { observeDocker, type DockerObservation } from './observe.js';
import { adoptVolumes, VOLUME_STEPS, type WantedVolume } from './volume-steps.js';

export type { DockerApplierOptions } from './env.js';

const STEPS = {
  ...IMAGE_STEPS,
  ...FILE_STEPS,
  ...NETWORK_STEPS,
  ...VOLUME_STEPS,
  ...CONTAINER_STEPS,
} satisfies HandlerTable<ContainerStepKind, DockerEnv>;

/** The container steps; a component step reaching this applier is a fault of the runner. */
function containerStep(step: Step) {
  if (!isContainerStep(step)) throw new Error(`the Docker applier does not execute "${step.kind}" steps`);
  return step;
}

export class DockerApplier implements Applier {
  readonly name = 'docker';
  readonly paths: HostPaths;
  private readonly env: DockerEnv;

  constructor(
    readonly engine: Engine,
    opts: DockerApplierOptions = {},
  ) {
    this.paths = opts.paths ?? hostPaths('/var/lib/rollgate');
    this.env = { engine, opts, paths: this.paths, created: new Map(), reportedVolumes: new Set() };
  }

  handles(step: Step): boolean {
    return isContainerStep(step);
  }

  /** Before anything runs: every container the plan creates, as its paths resolve here now. */
  async vet(plan: Plan, ctx: StepContext): Promise<void> {
    if (!this.env.opts.policy) return;
    for (const step of plan.stages.flatMap((s) => s.steps)) {
      if (step.kind !== 'create') continue;
      const t = step.target;
      await vetService(this.env, findApp(ctx, t.app), findService(ctx, t.app, t.service));
    }
  }

  observe(): Promise<DockerObservation> {
    return observeDocker(this.engine, this.env.opts.owner);
  }

  /** Of these images on the gateway, those whose configuration defines no healthcheck. */
  imagesWithoutHealthcheck(refs: string[]): Promise<string[]> {
    return imagesWithoutHealthcheck(this.env, refs);
  }

  /** Of these image references, those whose tag names another digest in the registry (pull_policy). */
  movedImages(refs: string[], log: Log): Promise<string[]> {
    return movedImages(this.env, refs, log);
  }

  /** Desired volumes on the gateway without rollgate's labels, adopted as they are (reported once). */
  adoptVolumes(wanted: WantedVolume[], log: Log): Promise<(WantedVolume & { unlabelled: true })[]> {
    return adoptVolumes(this.env, wanted, log);
  }

  run(step: Step, ctx: StepContext): Promise<StepResult> {
    return runStep(STEPS, this.env, containerStep(step), ctx);
  }

  undo(step: Step, rec: StepRecord, ctx: StepContext): Promise<void> {
    return undoStep(STEPS, this.env, containerStep(step), rec, ctx);
  }

  /** An image pulled ahead of its window: the same pull as the step's, which leaves what runs alone. */
  async prefetch(step: Step, ctx: StepContext): Promise<boolean> {
    if (step.kind !== 'pull') return false;
    await IMAGE_STEPS.pull.run(this.env, step, ctx);
    return true;
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
  resettle(step: Step, rec: StepRecord, ctx: StepContext): Promise<StepResult | undefined> {
    return resettleStep(STEPS, this.env, containerStep(step), rec, ctx);
  }

  /** Prunes repo files and the images of containers this apply removed, unless still wanted or in use. */
  async afterFinalize(_plan: Plan, records: Record<string, StepRecord>, ctx: StepContext): Promise<void> {
    await pruneFiles(this.env, ctx);
    await pruneImages(this.env, records, ctx);
  }
}
