// How far one component's update has come, as one state and a transition table instead of a
// flag per milestone. The record is written after every transition, so an undo after a crash
// reads exactly which protocol states ran: forward Download → ArtifactInstall → (reboot) →
// ArtifactCommit; back ArtifactRollback → (rollback reboot) → ArtifactFailure.

export type UpdateProgress =
  /** The record is written; Download runs. */
  | 'downloading'
  /** Download and SupportsRollback answered; nothing installed. */
  | 'downloaded'
  /** ArtifactInstall started: the component may be changing. */
  | 'installing'
  /** ArtifactInstall returned success. */
  | 'installed'
  /** The component goes through its reboot (its own, or the gateway's). */
  | 'rebooting'
  /** ArtifactCommit returned. */
  | 'committed'
  /** ArtifactRollback runs (or is owed). */
  | 'rolling-back'
  /** ArtifactRollback returned. */
  | 'rolled-back'
  /** A gateway reboot was asked for to finish the rollback. */
  | 'rollback-rebooting'
  /** ArtifactFailure ran: nothing more is owed to this update. */
  | 'failed';

export const UPDATE_TRANSITIONS: Readonly<Record<UpdateProgress, readonly UpdateProgress[]>> = {
  downloading: ['downloaded'],
  downloaded: ['installing'],
  installing: ['installed', 'rolling-back', 'failed'],
  installed: ['rebooting', 'committed', 'rolling-back', 'failed'],
  rebooting: ['committed', 'rolling-back', 'failed'],
  committed: ['rolling-back', 'failed'],
  'rolling-back': ['rolled-back'],
  'rolled-back': ['rollback-rebooting', 'failed'],
  'rollback-rebooting': ['failed'],
  failed: [],
};

export const UPDATE_PROGRESSES = Object.keys(UPDATE_TRANSITIONS) as UpdateProgress[];

const FORWARD: readonly UpdateProgress[] = [
  'downloading',
  'downloaded',
  'installing',
  'installed',
  'rebooting',
  'committed',
];

export interface Progress {
  progress: UpdateProgress;
  /** How far the forward path had come when it was left (for a rollback, or ArtifactFailure). */
  forwardTo?: UpdateProgress;
}

export class ProgressError extends Error {
  override name = 'ProgressError';
}

const isForward = (p: UpdateProgress) => FORWARD.includes(p);

/**
 * The next state; repeating the current one is allowed (a step retried after a crash). Leaving
 * the forward path remembers how far it had come.
 */
export function advance(p: Progress, to: UpdateProgress): Progress {
  if (p.progress === to) return p;
  if (!UPDATE_TRANSITIONS[p.progress].includes(to))
    throw new ProgressError(`an update cannot go from ${p.progress} to ${to}`);
  const forwardTo = isForward(p.progress) && !isForward(to) ? p.progress : p.forwardTo;
  return { progress: to, ...(forwardTo ? { forwardTo } : {}) };
}

/**
 * Whether the forward path reached `milestone`. For `rebooting`, past it counts: an update that
 * needs a reboot is committed only after it, and one that needs none never asks.
 */
export function reached(p: Progress, milestone: UpdateProgress): boolean {
  const forward = isForward(p.progress) ? p.progress : (p.forwardTo ?? 'installing');
  return FORWARD.indexOf(forward) >= FORWARD.indexOf(milestone);
}

/** The component may have changed and nothing has yet undone it. */
export function undoOwed(p: Progress): boolean {
  return !['downloading', 'downloaded', 'failed'].includes(p.progress);
}

/** ArtifactRollback has returned. */
export function rollbackDone(p: Progress): boolean {
  return p.progress === 'rolled-back' || p.progress === 'rollback-rebooting' || p.progress === 'failed';
}

/** Records written before the state existed carried one flag per milestone. */
export interface LegacyFlags {
  installStarted?: boolean | undefined;
  installDone?: boolean | undefined;
  rebooted?: boolean | undefined;
  committed?: boolean | undefined;
  rolledBack?: boolean | undefined;
  rollbackRebootRequested?: boolean | undefined;
}

export function fromLegacyFlags(f: LegacyFlags): Progress {
  const forward: UpdateProgress = f.committed
    ? 'committed'
    : f.rebooted
      ? 'rebooting'
      : f.installDone
        ? 'installed'
        : f.installStarted || f.rolledBack
          ? 'installing'
          : 'downloaded';
  if (!f.installStarted && forward !== 'downloaded') return { progress: 'failed', forwardTo: forward };
  if (f.rollbackRebootRequested) return { progress: 'rollback-rebooting', forwardTo: forward };
  if (f.rolledBack) return { progress: 'rolled-back', forwardTo: forward };
  return { progress: forward };
}
