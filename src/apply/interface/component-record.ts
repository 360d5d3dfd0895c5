// What rollgate keeps per component in the state directory: how to call its interface, the
// version it last committed (Update Modules answer no `Provides`), and the update in flight
// with the protocol answers and progress that an undo after a crash needs.

import { writeFileAtomic } from '../../base/atomic-write.js';
import { describeProblem, fields, optional, shapeProblem, type Shape } from '../../base/shape.js';
import { readStateFile, StateFileError, STATE_FILE_MAX_BYTES } from '../../base/state-file.js';
import type { InterfaceTarget, RebootNeed } from './protocol.js';
import { fromLegacyFlags, UPDATE_PROGRESSES, type LegacyFlags, type UpdateProgress } from './update-progress.js';

export interface UpdateInFlight {
  txn: string;
  from?: string;
  to: string;
  supportsRollback: boolean;
  /** Asked after ArtifactInstall, as the protocol says; absent before. */
  reboot?: RebootNeed;
  /** The gateway's boot id when the install started: a different one means it rebooted since. */
  bootId?: string;
  unpacked: boolean;
  /** How far the update has come (./update-progress.ts). */
  progress: UpdateProgress;
  forwardTo?: UpdateProgress;
  /** The boot id when the gateway reboot was asked for: still the same afterwards means it never happened. */
  rebootBootId?: string;
  /** The boot id when the rollback's gateway reboot was asked for. */
  rollbackRebootBootId?: string;
}

export interface ComponentRecord {
  schema: 'rollgate.component/v1';
  target: InterfaceTarget;
  /** The version rollgate last committed on this component. */
  installed?: string;
  update?: UpdateInFlight;
}

const str = 'string';
const PROGRESS: Shape = { oneOf: UPDATE_PROGRESSES };

/** A component record's shape (src/base/shape.ts), checked whenever it is read back. */
const RECORD_SHAPE: Shape = fields<ComponentRecord>({
  schema: { literal: 'rollgate.component/v1' },
  target: fields<InterfaceTarget>({
    key: str,
    type: str,
    id: optional(str),
    interface: str,
    interfaceArgs: { list: str },
    protocol: { oneOf: ['update_manifest', 'manifest'] },
  }),
  installed: optional(str),
  update: optional(
    fields<UpdateInFlight>({
      txn: str,
      from: optional(str),
      to: str,
      supportsRollback: 'boolean',
      reboot: optional({ oneOf: ['No', 'Yes', 'Automatic'] }),
      bootId: optional(str),
      unpacked: 'boolean',
      progress: PROGRESS,
      forwardTo: optional(PROGRESS),
      rebootBootId: optional(str),
      rollbackRebootBootId: optional(str),
    }),
  ),
});

export class RecordError extends Error {
  override name = 'RecordError';
}

export async function readRecord(path: string): Promise<ComponentRecord | undefined> {
  const fail = (why: string) =>
    new RecordError(
      `the component record ${path} cannot be read (${why}); it is written atomically, so this is damage from ` +
        'outside rollgate. Fix it, or move it aside: the component is then asked what it runs, and an update ' +
        'that was in flight on it is not put back',
    );
  let text: string | undefined;
  try {
    text = await readStateFile(path, STATE_FILE_MAX_BYTES.record);
  } catch (err) {
    if (err instanceof StateFileError) throw fail(err.message);
    throw err;
  }
  if (text === undefined) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw fail(`not valid JSON: ${(err as Error).message}`);
  }
  // An update in flight recorded by an older rollgate, one flag per milestone.
  const u = (doc as { update?: unknown } | null)?.update;
  if (typeof u === 'object' && u !== null && !Array.isArray(u) && (u as UpdateInFlight).progress === undefined) {
    const legacy = u as UpdateInFlight & LegacyFlags;
    const { installStarted, installDone, rebooted, committed, rolledBack, rollbackRebootRequested, ...rest } = legacy;
    const flags = { installStarted, installDone, rebooted, committed, rolledBack, rollbackRebootRequested };
    (doc as { update: UpdateInFlight }).update = { ...rest, ...fromLegacyFlags(flags) };
  }
  const wrong = shapeProblem(doc, RECORD_SHAPE);
  if (wrong) throw fail(describeProblem(wrong));
  return doc as ComponentRecord;
}

export async function writeRecord(path: string, r: ComponentRecord): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(r, null, 1));
}
