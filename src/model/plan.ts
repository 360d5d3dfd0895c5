// The plan: what the appliers execute, what `rollgate diff` prints, what the journal records.

import type { ScriptAction, ScriptState, ArtifactSource, DesiredState } from './desired.js';
import type { EngineNetworkSpec } from './observed.js';
import { fields, fieldsAsRead, optional, tagged, type Optional, type Shape } from '../base/shape.js';

export type ComponentTarget = { kind: 'component'; key: string; type: string };
export type ServiceTarget = { kind: 'service'; app: string; service: string };
export type ImageTarget = { kind: 'image'; ref: string };
export type FilesTarget = { kind: 'files'; app: string; hash: string };
export type NetworkTarget = { kind: 'network'; app: string; name: string };
export type VolumeTarget = { kind: 'volume'; app: string; name: string };
export type StepTarget = ComponentTarget | ServiceTarget | ImageTarget | FilesTarget | NetworkTarget | VolumeTarget;

/** What every step has: its kind, what it acts on, and what must finish first. */
interface StepOn<K extends string, T extends StepTarget> {
  /** Stable and unique inside a plan, e.g. `install component/G13`. */
  id: string;
  kind: K;
  target: T;
  /** Ids of steps in the same phase that must finish first. */
  dependsOn: string[];
}

/** A component's version before the change, when the gateway knows one, and after. */
interface Versions {
  from?: string;
  to: string;
}

/** Prepare: the artifact fetched and verified, and handed to the interface (Download). */
export interface DownloadStep extends StepOn<'download', ComponentTarget>, Versions {
  artifact: ArtifactSource;
}
export type InstallStep = StepOn<'install', ComponentTarget> & Versions;
/**
 * `reboot` reboots only when the interface answers NeedsArtifactReboot with Yes or Automatic, which
 * the protocol asks after ArtifactInstall (a package manager may only know then): a plan cannot know.
 */
export interface RebootStep extends StepOn<'reboot', ComponentTarget> {
  to: string;
}
export interface CommitStep extends StepOn<'commit', ComponentTarget> {
  to: string;
}
export type CleanupStep = StepOn<'cleanup', ComponentTarget>;

export interface PullStep extends StepOn<'pull', ImageTarget> {
  image: string;
  /** The platform to pull for (Compose `platform:`). */
  platform?: string;
}
export interface WriteFilesStep extends StepOn<'write-files', FilesTarget> {
  /** How many files, for people. */
  to: string;
}

/** Engine name of a network or volume when it is not `<app>_<name>`; external ones are never touched. */
interface EngineNamed {
  engineName?: string;
}
export interface CreateNetworkStep extends StepOn<'create-network', NetworkTarget>, EngineNamed {}
export interface RecreateNetworkStep extends StepOn<'recreate-network', NetworkTarget>, EngineNamed {
  /** The network as the Engine had it, to make it again if the change is undone. */
  previous?: EngineNetworkSpec;
}
export interface RemoveNetworkStep extends StepOn<'remove-network', NetworkTarget>, EngineNamed {}
export interface CreateVolumeStep extends StepOn<'create-volume', VolumeTarget>, EngineNamed {}
export interface RemoveVolumeStep extends StepOn<'remove-volume', VolumeTarget>, EngineNamed {}

/** Compose hooks a step runs: `post_start` after a start, `pre_stop` before a stop (for `rollgate diff`). */
interface Hooked {
  hooks?: string[];
}
/** Compose's container_name of the service: `create` and `start` move the name to the new container. */
interface Named {
  containerName?: string;
}
export interface CreateStep extends StepOn<'create', ServiceTarget>, Named {
  /** The config hash of the container it replaces, when it replaces one. */
  from?: string;
  /** The service's config hash. */
  to: string;
  image: string;
  /** The container this one replaces, kept until the change is confirmed. */
  replaces?: string;
}
export interface StartStep extends StepOn<'start', ServiceTarget>, Named, Hooked {
  to: string;
  /** An observed container started again (a repair, a restart); else the one this transaction created. */
  containerId?: string;
  /** Services it waits for (`depends_on: condition:`), and `ready` for itself (start-first). */
  waitFor?: { service: string; condition: string }[];
}
export interface StopStep extends StepOn<'stop', ServiceTarget>, Hooked {
  containerId: string;
}
export interface RemoveStep extends StepOn<'remove', ServiceTarget> {
  containerId: string;
}

export type ComponentStep = DownloadStep | InstallStep | RebootStep | CommitStep | CleanupStep;
export type ContainerStep =
  | PullStep
  | WriteFilesStep
  | CreateNetworkStep
  | RecreateNetworkStep
  | RemoveNetworkStep
  | CreateVolumeStep
  | RemoveVolumeStep
  | CreateStep
  | StartStep
  | StopStep
  | RemoveStep;
/** Every key of every member of a union. */
type KeysOf<U> = U extends unknown ? keyof U : never;
/**
 * Each member with the other members' fields declared absent: code that holds any step may ask
 * whether it has one (`step.image` is a string or undefined), and none can be set on a kind that
 * does not carry it.
 */
type Exclusive<U, All = U> = U extends unknown ? U & { [K in Exclude<KeysOf<All>, keyof U>]?: never } : never;
export type Step = Exclusive<ComponentStep | ContainerStep>;

export type ComponentStepKind = ComponentStep['kind'];
export type ContainerStepKind = ContainerStep['kind'];
export type StepKind = Step['kind'];
/** The step of one kind. */
export type StepOf<K extends StepKind> = Extract<Step, { kind: K }>;

/** Component steps are the update interfaces'; every other step is the Docker Engine's. */
export const isComponentStep = (s: Step): s is StepOf<ComponentStepKind> => s.target.kind === 'component';
export const isContainerStep = (s: Step): s is StepOf<ContainerStepKind> => s.target.kind !== 'component';

export type ChangeAction = 'add' | 'change' | 'remove' | 'repair';

export interface Change {
  action: ChangeAction;
  target: StepTarget;
  from?: string;
  to?: string;
  reason: string;
  /** `registry`: the image's tag moved in the registry (pull_policy), not the fleet repo. */
  cause?: 'registry';
}

export interface Stage {
  /** `group 10`, or `group 10.2` when constraints split a group. */
  name: string;
  /** The order group; null for removals of apps that are no longer desired. */
  order: number | null;
  steps: Step[];
}

/** Which order the stages run in, and why. */
export type OrderChoice =
  /** Order groups lowest first, order rules inside a group. */
  | 'declared'
  /**
   * The declared order backwards, as a rollback runs: the declared one would pass through a state
   * the constraints refuse. Its states are those the opposite change passes in the declared order,
   * so the undo of a change that planned (a revert, a rollout's return to its base) plans too.
   */
  | 'reversed'
  /** Neither passes: the first order of the stages that does, by the declared order's preference. */
  | 'searched';

export interface PlanOrder {
  chosen: OrderChoice;
  /** For people: the stages in the order they run, and why this order. */
  reason: string;
}

export interface Plan {
  schema: 'rollgate.plan/v1';
  desired: Pick<DesiredState, 'source' | 'device' | 'target' | 'system'>;
  against: string;
  changes: Change[];
  /** Everything fetched before anything running is touched (safety rule 1). */
  prepare: Step[];
  stages: Stage[];
  /** After every stage passed health: commits in ascending order, old containers removed. */
  finalize: Step[];
  /** Stage names in the order a failed apply undoes them. */
  rollback: string[];
  /** How the stages were ordered, when there are two or more. */
  order?: PlanOrder;
  /** The system's state scripts by state and action, in the order they run (for `rollgate diff`). */
  stateScripts?: { state: ScriptState; action: ScriptAction; name: string }[];
  unchanged: { components: string[]; services: string[] };
}

export function planHasChanges(plan: Plan): boolean {
  return plan.changes.length > 0;
}

const str: Shape = 'string';
const strings: Shape = { list: str };

/**
 * A step's target as the journal keeps it: its kind, which must be the one its step acts on; its
 * other fields are read by the applier that needs them.
 */
const on = (kind: StepTarget['kind']): Shape => ({ fields: { kind: { literal: kind } } });
/** What every step has (see StepOn). */
const step = (kind: StepKind, target: StepTarget['kind']): Record<'id' | 'kind' | 'target' | 'dependsOn', Shape> => ({
  id: str,
  kind: { literal: kind },
  target: on(target),
  dependsOn: strings,
});
/** Versions are for people (`rollgate diff`): nothing that resumes a transaction reads them back. */
const versions: Record<'from' | 'to', Optional> = { from: optional(str), to: optional(str) };
const engineName: Record<'engineName', Optional> = { engineName: optional(str) };

/** A step as the journal keeps it (src/base/shape.ts): what resuming a transaction reads of it, by kind. */
export const STEP_SHAPE: Shape = tagged<Step, 'kind'>('kind', {
  download: fieldsAsRead<DownloadStep>({
    ...step('download', 'component'),
    ...versions,
    artifact: optional('unknown'),
  }),
  install: fieldsAsRead<InstallStep>({ ...step('install', 'component'), ...versions }),
  reboot: fieldsAsRead<RebootStep>({ ...step('reboot', 'component'), to: versions.to }),
  commit: fieldsAsRead<CommitStep>({ ...step('commit', 'component'), to: versions.to }),
  cleanup: fields<CleanupStep>(step('cleanup', 'component')),
  pull: fields<PullStep>({ ...step('pull', 'image'), image: str, platform: optional(str) }),
  'write-files': fieldsAsRead<WriteFilesStep>({ ...step('write-files', 'files'), to: versions.to }),
  'create-network': fields<CreateNetworkStep>({ ...step('create-network', 'network'), ...engineName }),
  'recreate-network': fields<RecreateNetworkStep>({
    ...step('recreate-network', 'network'),
    ...engineName,
    previous: optional('unknown'),
  }),
  'remove-network': fields<RemoveNetworkStep>({ ...step('remove-network', 'network'), ...engineName }),
  'create-volume': fields<CreateVolumeStep>({ ...step('create-volume', 'volume'), ...engineName }),
  'remove-volume': fields<RemoveVolumeStep>({ ...step('remove-volume', 'volume'), ...engineName }),
  create: fieldsAsRead<CreateStep>({
    ...step('create', 'service'),
    ...versions,
    image: optional(str),
    replaces: optional(str),
    containerName: optional(str),
  }),
  start: fieldsAsRead<StartStep>({
    ...step('start', 'service'),
    to: versions.to,
    containerId: optional(str),
    waitFor: optional({ list: fields<{ service: string; condition: string }>({ service: str, condition: str }) }),
    containerName: optional(str),
    hooks: optional(strings),
  }),
  stop: fields<StopStep>({ ...step('stop', 'service'), containerId: str, hooks: optional(strings) }),
  remove: fields<RemoveStep>({ ...step('remove', 'service'), containerId: str }),
});

/** The shape of a plan read back from the journal. */
export const PLAN_SHAPE: Shape = fields<Plan>({
  schema: { literal: 'rollgate.plan/v1' },
  desired: {
    fields: {
      source: fields<Plan['desired']['source']>({ commit: optional(str), path: optional(str) }),
      target: str,
      system: str,
    },
  },
  against: str,
  changes: { list: { fields: { action: str, reason: str } } },
  prepare: { list: STEP_SHAPE },
  stages: { list: fields<Stage>({ name: str, order: { nullable: 'number' }, steps: { list: STEP_SHAPE } }) },
  finalize: { list: STEP_SHAPE },
  rollback: strings,
  order: optional(fields<PlanOrder>({ chosen: str, reason: str })),
  stateScripts: optional({ list: { fields: { state: str, action: str, name: str } } }),
  unchanged: fields<Plan['unchanged']>({ components: strings, services: strings }),
});
