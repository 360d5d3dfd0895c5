// The plan: what the appliers execute, what `rollgate diff` prints, what the journal records.

import type { ScriptAction, ScriptState, ArtifactSource, DesiredState } from './desired.js';
import type { EngineNetworkSpec } from './observed.js';
import { fields, optional, type Shape } from '../base/shape.js';

/**
 * `reboot` reboots only when the interface answers NeedsArtifactReboot with Yes or Automatic, which
 * the protocol asks after ArtifactInstall (a package manager may only know then): a plan cannot know.
 */
export type ComponentStepKind = 'download' | 'install' | 'reboot' | 'commit' | 'cleanup';
export type ContainerStepKind =
  | 'pull'
  | 'write-files'
  | 'create-network'
  | 'recreate-network'
  | 'create-volume'
  | 'create'
  | 'stop'
  | 'start'
  | 'remove'
  | 'remove-network'
  | 'remove-volume';
export type StepKind = ComponentStepKind | ContainerStepKind;

export type StepTarget =
  | { kind: 'component'; key: string; type: string }
  | { kind: 'service'; app: string; service: string }
  | { kind: 'image'; ref: string }
  | { kind: 'files'; app: string; hash: string }
  | { kind: 'network'; app: string; name: string }
  | { kind: 'volume'; app: string; name: string };

export interface Step {
  /** Stable and unique inside a plan, e.g. `install component/G13`. */
  id: string;
  kind: StepKind;
  target: StepTarget;
  /** Ids of steps in the same phase that must finish first. */
  dependsOn: string[];
  /** Versions for components; config hashes for services. */
  from?: string;
  to?: string;
  /** The existing container a step acts on (stop/remove/start of an observed container). */
  containerId?: string;
  /** For `create`: the container this one replaces, kept until the change is confirmed. */
  replaces?: string;
  /** For `start` of a service with `depends_on: condition: service_healthy` on others. */
  waitFor?: { service: string; condition: string }[];
  artifact?: ArtifactSource;
  image?: string;
  /** For `pull`: the platform to pull for (Compose `platform:`). */
  platform?: string;
  /** Compose's container_name of the service: `create` and `start` move the name to the new container. */
  containerName?: string;
  /** For `recreate-network`: the network as the Engine had it, to make it again if the change is undone. */
  previous?: EngineNetworkSpec;
  /** Engine name of a network or volume when it is not `<app>_<name>`; external ones are never touched. */
  engineName?: string;
  /** Compose hooks this step runs: `post_start` after a start, `pre_stop` before a stop (for `rollgate diff`). */
  hooks?: string[];
}

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

const str = 'string';
const strings: Shape = { list: str };

/** A step as the journal keeps it (src/base/shape.ts): what resuming a transaction reads of it. */
export const STEP_SHAPE: Shape = fields<Step>({
  id: str,
  kind: str,
  // The target's other fields depend on its kind; the appliers read those they need.
  target: { fields: { kind: str } },
  dependsOn: strings,
  from: optional(str),
  to: optional(str),
  containerId: optional(str),
  replaces: optional(str),
  waitFor: optional({ list: fields<{ service: string; condition: string }>({ service: str, condition: str }) }),
  artifact: optional({ fields: { kind: str } }),
  image: optional(str),
  platform: optional(str),
  containerName: optional(str),
  previous: optional('unknown'),
  engineName: optional(str),
  hooks: optional(strings),
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
