// What rollgate keeps per component in the state directory: how to call its interface, the
// version it last committed (Update Modules answer no `Provides`), and the update in flight
// with the protocol answers and progress that an undo after a crash needs.

import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../base/atomic-write.js';
import type { InterfaceTarget, RebootNeed } from './protocol.js';
import { fromLegacyFlags, type LegacyFlags, type UpdateProgress } from './update-progress.js';

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

export async function readRecord(path: string): Promise<ComponentRecord | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const r = JSON.parse(text) as ComponentRecord;
    if (r.schema !== 'rollgate.component/v1') throw new Error(`schema "${String(r.schema)}"`);
    const t = r.target as Partial<InterfaceTarget> | undefined;
    if (typeof t !== 'object' || t === null || typeof t.key !== 'string' || typeof t.interface !== 'string')
      throw new Error('target is not { key, interface, ... }');
    if (r.installed !== undefined && typeof r.installed !== 'string') throw new Error('installed is not a string');
    if (
      r.update !== undefined &&
      (typeof r.update !== 'object' || r.update === null || typeof r.update.to !== 'string')
    )
      throw new Error('update is not { txn, to, ... }');
    // An update in flight recorded by an older rollgate, one flag per milestone.
    if (r.update && r.update.progress === undefined) {
      const legacy = r.update as UpdateInFlight & LegacyFlags;
      const { installStarted, installDone, rebooted, committed, rolledBack, rollbackRebootRequested, ...rest } = legacy;
      const flags = { installStarted, installDone, rebooted, committed, rolledBack, rollbackRebootRequested };
      r.update = { ...rest, ...fromLegacyFlags(flags) };
    }
    return r;
  } catch (err) {
    throw new Error(
      `the component record ${path} cannot be read (${(err as Error).message}); it is written atomically, so ` +
        'this is damage from outside rollgate. Fix it, or move it aside: the component is then asked what it ' +
        'runs, and an update that was in flight on it is not put back',
    );
  }
}

export async function writeRecord(path: string, r: ComponentRecord): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(r, null, 1));
}
