// The undo of an install: ArtifactRollback, the rollback reboot (the component's, or the
// gateway's when it rebooted since the install), ArtifactFailure; an interface without rollback
// gets ArtifactFailure and an UndoImpossibleError saying what the component now runs. Reboot and
// commit have no undo of their own: the install's rollback undoes them.

import type { StepOf } from '../../model/index.js';
import { UndoImpossibleError, type StepContext } from '../applier.js';
import { readRecord } from './component-record.js';
import { bootId, inFlight, message, move, type InterfaceEnv, type RecordInFlight } from './env.js';
import { parseNeedsReboot } from './protocol.js';
import { reached, rollbackDone, undoOwed } from './update-progress.js';
import type { ComponentDirs } from './work-dir.js';

export async function undoInstall(env: InterfaceEnv, step: StepOf<'install'>, ctx: StepContext): Promise<void> {
  const dirs = env.dirs(step.target.key);
  const rec = await readRecord(dirs.record);
  if (!inFlight(rec) || rec.update.txn !== ctx.txn) return; // nothing of this transaction is left
  await rollback(env, rec, dirs, ctx);
}

/** An interface that cannot roll back: ArtifactFailure, and the record says what the component runs now. */
async function cannotRollBack(
  env: InterfaceEnv,
  rec: RecordInFlight,
  dirs: ComponentDirs,
  ctx: StepContext,
): Promise<never> {
  const u = rec.update;
  const t = rec.target;
  await env
    .call(t, 'ArtifactFailure', dirs.work, ctx.log)
    .catch((err: unknown) => ctx.log.warn({ component: t.key }, message(err)));
  const installed = reached(u, 'installed');
  move(u, 'failed');
  const cannot = `interface "${t.interface}" does not support rollback (SupportsRollback: No)`;
  if (installed) {
    // It runs the new version now: the record says so, so the next apply does not install it
    // again (an Update Module answers no Provides; the record is all rollgate knows).
    rec.installed = u.to;
    await env.save(dirs, rec);
    throw new UndoImpossibleError(`${cannot}, so ${t.key} stays on ${u.to}${u.from ? ` instead of ${u.from}` : ''}`);
  }
  await env.save(dirs, rec);
  throw new UndoImpossibleError(
    `${cannot}, and its ArtifactInstall did not finish, so ${t.key} may be part-way ` +
      `between ${u.from ?? 'nothing'} and ${u.to}; the next apply installs ${u.to} again`,
  );
}

async function rollback(env: InterfaceEnv, rec: RecordInFlight, dirs: ComponentDirs, ctx: StepContext): Promise<void> {
  const u = rec.update;
  const t = rec.target;
  if (!undoOwed(u)) return;
  if (!u.supportsRollback) return cannotRollBack(env, rec, dirs, ctx);
  // A crash during ArtifactInstall may have come before the reboot query.
  if (u.reboot === undefined) {
    u.reboot = await env.ask(t, 'NeedsArtifactReboot', dirs.work, ctx.log, parseNeedsReboot).catch(() => 'No' as const);
    await env.save(dirs, rec);
  }
  if (!rollbackDone(u)) {
    if (u.progress !== 'rolling-back') {
      move(u, 'rolling-back');
      await env.save(dirs, rec);
    }
    await env.call(t, 'ArtifactRollback', dirs.work, ctx.log);
    move(u, 'rolled-back');
    await env.save(dirs, rec);
  }
  // A peripheral may have rebooted into the new version without rollgate knowing (a power
  // cut), so one that reboots itself always gets its rollback reboot; the gateway reboots
  // back if it rebooted since the install, on purpose or not.
  const now = await bootId();
  const gatewayRebooted = reached(u, 'rebooting') || (u.bootId !== undefined && u.bootId !== now);
  const rebootAsked = u.progress === 'rollback-rebooting';
  if (u.reboot === 'Yes') {
    await env.call(t, 'ArtifactRollbackReboot', dirs.work, ctx.log);
    await env.call(t, 'ArtifactVerifyRollbackReboot', dirs.work, ctx.log);
  } else if (u.reboot === 'Automatic' && (gatewayRebooted || rebootAsked)) {
    // Asked for before, but rollgate was stopped before the reboot happened: ask again.
    const notYet = u.rollbackRebootBootId !== undefined && u.rollbackRebootBootId === now;
    if (!rebootAsked || notYet) {
      move(u, 'rollback-rebooting');
      if (now !== undefined) u.rollbackRebootBootId = now;
      await env.save(dirs, rec);
      try {
        await env.rebootGateway(ctx);
      } catch (err) {
        // The interface's verification below decides whether the old version runs.
        ctx.log.warn(
          { component: t.key, err: message(err) },
          `the rollback of ${t.key} wanted a gateway reboot that did not happen: ${message(err)}`,
        );
      }
    }
    await env.call(t, 'ArtifactVerifyRollbackReboot', dirs.work, ctx.log);
  }
  await env.call(t, 'ArtifactFailure', dirs.work, ctx.log);
  const committed = reached(u, 'committed');
  move(u, 'failed');
  if (committed) {
    if (u.from !== undefined) rec.installed = u.from;
    else delete rec.installed;
  }
  await env.save(dirs, rec);
  ctx.log.info({ component: t.key, version: u.from }, `rolled ${t.key} back${u.from ? ` to ${u.from}` : ''}`);
}
