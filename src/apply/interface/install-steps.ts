// Forward through the protocol after Download: ArtifactInstall (and NeedsArtifactReboot), the
// component's reboot or the gateway's, ArtifactCommit checked against what the component then
// Provides, and Cleanup. Each step writes the record before and after its state, so an undo after
// a crash knows exactly which states ran.

import type { ComponentTarget, StepOf } from '../../model/index.js';
import type { StepContext, StepRecord } from '../applier.js';
import type { StepResult } from '../step-handlers.js';
import { readRecord } from './component-record.js';
import { bootId, message, move, type InterfaceEnv } from './env.js';
import { InterfaceError } from './invoke.js';
import { parseKeyValues, parseNeedsReboot, providedVersion } from './protocol.js';

export async function install(env: InterfaceEnv, step: StepOf<'install'>, ctx: StepContext): Promise<StepResult> {
  const { rec, dirs } = await env.record(step.target);
  if (rec.update.progress === 'installed') {
    // ArtifactInstall returned and NeedsArtifactReboot was answered, but the journal could not say
    // so (the disk full, the Engine away): the transaction goes on forward from here, not again.
    ctx.log.info({ component: rec.target.key }, `${rec.target.key} has ${rec.update.to} installed already`);
    return {};
  }
  move(rec.update, 'installing');
  const boot = await bootId();
  if (boot !== undefined) rec.update.bootId = boot;
  await env.save(dirs, rec);
  await env.call(rec.target, 'ArtifactInstall', dirs.work, ctx.log);
  // The protocol asks NeedsArtifactReboot after ArtifactInstall (a package manager may only know then).
  move(rec.update, 'installed');
  rec.update.reboot = await env.ask(rec.target, 'NeedsArtifactReboot', dirs.work, ctx.log, parseNeedsReboot);
  await env.save(dirs, rec);
  ctx.log.info(
    { component: rec.target.key, version: rec.update.to },
    `installed ${rec.update.to} on ${rec.target.key}`,
  );
  return {};
}

/** Whether a `reboot` step will reboot anything (its component said it needs one), before it runs. */
export async function willReboot(env: InterfaceEnv, target: ComponentTarget): Promise<boolean> {
  const rec = await readRecord(env.dirs(target.key).record);
  return (rec?.update?.reboot ?? 'No') !== 'No';
}

export async function reboot(env: InterfaceEnv, step: StepOf<'reboot'>, ctx: StepContext): Promise<StepResult> {
  const { rec, dirs } = await env.record(step.target);
  const t = rec.target;
  if ((rec.update.reboot ?? 'No') === 'No') return {};
  move(rec.update, 'rebooting');
  if (rec.update.reboot === 'Automatic') {
    const now = await bootId();
    if (now !== undefined) rec.update.rebootBootId = now;
    await env.save(dirs, rec);
    return { reboot: 'gateway' };
  }
  await env.save(dirs, rec);
  await env.call(t, 'ArtifactReboot', dirs.work, ctx.log);
  await env.call(t, 'ArtifactVerifyReboot', dirs.work, ctx.log);
  ctx.log.info({ component: t.key }, `${t.key} rebooted into ${rec.update.to}`);
  return {};
}

/** After the gateway came back: verifies a step that awaited the reboot. */
export async function verifyAfterReboot(
  env: InterfaceEnv,
  target: ComponentTarget,
  _record: StepRecord,
  ctx: StepContext,
): Promise<void> {
  const { rec, dirs } = await env.record(target);
  const asked = rec.update.rebootBootId;
  if (asked !== undefined && asked === (await bootId())) {
    // rollgate was stopped after journaling the reboot and before it (a kill, a restart of the
    // service): the device still runs what it ran, so verifying now would fail a good update.
    ctx.log.warn(
      { component: rec.target.key },
      `the gateway has not rebooted since ${rec.target.key} asked for it (rollgate was stopped in between): ` +
        `rebooting now`,
    );
    await env.rebootGateway(ctx);
  }
  await env.call(rec.target, 'ArtifactVerifyReboot', dirs.work, ctx.log);
  ctx.log.info(
    { component: rec.target.key },
    `${rec.target.key} came back on ${rec.update.to} after the gateway reboot`,
  );
}

export async function commit(env: InterfaceEnv, step: StepOf<'commit'>, ctx: StepContext): Promise<StepResult> {
  const { rec, dirs } = await env.record(step.target);
  await env.call(rec.target, 'ArtifactCommit', dirs.work, ctx.log);
  rec.installed = rec.update.to;
  move(rec.update, 'committed');
  await env.save(dirs, rec);
  // A component that does not report the version it was given did not take the update, whatever
  // its exit codes said: it is a failed update, rolled back, not "applied" and reinstalled forever.
  const provides = await env.ask(rec.target, 'Provides', dirs.work, ctx.log, (out) => parseKeyValues('Provides', out));
  let reported: string | undefined;
  try {
    reported = providedVersion(provides, rec.target.interface);
  } catch (err) {
    throw new InterfaceError(
      { name: rec.target.interface, component: rec.target.key, state: 'Provides' },
      `protocol error after ArtifactCommit: ${message(err)}`,
    );
  }
  if (reported !== undefined && reported !== rec.update.to) {
    throw new InterfaceError(
      { name: rec.target.interface, component: rec.target.key, state: 'ArtifactCommit' },
      `committed, but Provides then reports version ${JSON.stringify(reported)}, ` +
        `not ${JSON.stringify(rec.update.to)}: the update did not take`,
    );
  }
  ctx.log.info(
    { component: rec.target.key, version: rec.update.to },
    `committed ${rec.update.to} on ${rec.target.key}`,
  );
  return {};
}

export async function cleanup(env: InterfaceEnv, step: StepOf<'cleanup'>, ctx: StepContext): Promise<StepResult> {
  const dirs = env.dirs(step.target.key);
  const rec = await readRecord(dirs.record);
  if (!rec?.update) return {}; // a repeat after a crash: already cleaned up
  await env.call(rec.target, 'Cleanup', dirs.work, ctx.log);
  await env.forget(dirs, rec);
  return {};
}
