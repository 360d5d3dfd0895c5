// `rollgate apply` (one reconcile, now) and `rollgate observe` (the live gateway as JSON).

import { secureStateDir } from '../base/state-dir.js';
import { endLeftoverGroups } from '../base/process-group.js';
import { durationMs } from '../base/duration.js';
import { resolve } from 'node:path';
import { refreshableImages } from '../apply/index.js';
import { writeFileAtomic } from '../base/atomic-write.js';
import { type Log } from '../base/log.js';
import { reconcileOnce } from '../gateway/reconcile.js';
import { loadDesiredState } from '../manifest/index.js';
import type { ResumeReason } from '../model/index.js';
import {
  loadOptions,
  printWarnings,
  verifySource,
  repoSpec,
  type RepoOptions,
  type VariableOptions,
  decrypting,
} from './commands.js';
import { EXIT_ERROR, EXIT_OK, EXIT_ROLLBACK_INCOMPLETE, EXIT_ROLLED_BACK, type Io } from './io.js';
import { DEFAULT_STATE_DIR, Gateway, type GatewayOptions } from '../gateway/gateway.js';
import { parseIdentity } from './identity.js';
import { openRepo } from './open-repo.js';
import { presentPlan, renderPlan } from './render.js';
import { allowPublic } from '../agent/redaction.js';

export { EXIT_ROLLBACK_INCOMPLETE, EXIT_ROLLED_BACK };
export { DEFAULT_STATE_DIR };

/** Progress for people on stderr: one line per event, no JSON. */
function humanLog(io: Io, quiet: boolean): Log {
  const line = (mark: string) => (_: Record<string, unknown>, msg: string) => io.err(`${mark} ${msg}\n`);
  const noop = () => {};
  return { debug: noop, info: quiet ? noop : line('·'), warn: line('!'), error: line('✗') };
}

const RESUMED: Record<ResumeReason, string> = {
  finished: 'finished',
  'rolled-back': 'put back',
  'nothing-touched': 'dropped (nothing had been touched)',
  continued: 'continued after the gateway rebooted, and completed',
};

export interface ApplyCommandOptions extends RepoOptions, GatewayOptions, VariableOptions {
  id?: string;
  label: string[];
  stateDir: string;
  output: 'human' | 'json';
  quiet?: boolean;
  /** --artifact-key, repeated. */
  artifactKey?: string[];
  stateScriptTimeout?: string;
  stateScriptRetryInterval?: string;
  stateScriptRetryTimeout?: string;
}

function scriptTimeouts(o: ApplyCommandOptions) {
  const ms = (v: string | undefined, flag: string) => (v === undefined ? undefined : durationMs(v, flag));
  const timeoutMs = ms(o.stateScriptTimeout, '--state-script-timeout');
  const retryIntervalMs = ms(o.stateScriptRetryInterval, '--state-script-retry-interval');
  const retryTimeoutMs = ms(o.stateScriptRetryTimeout, '--state-script-retry-timeout');
  return {
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(retryIntervalMs !== undefined ? { retryIntervalMs } : {}),
    ...(retryTimeoutMs !== undefined ? { retryTimeoutMs } : {}),
  };
}

export async function runApply(o: ApplyCommandOptions, io: Io): Promise<number> {
  const device = parseIdentity(o.id, o.label);
  allowPublic(device);
  const log = humanLog(io, o.quiet === true || o.output === 'json');
  const stateDir = resolve(o.stateDir);
  await secureStateDir(stateDir);
  // What a killed rollgate started (an interface hung on a pipe) is ended before its journal is resumed.
  await endLeftoverGroups(stateDir, durationMs(o.interfaceKillGrace ?? '1m', '--interface-kill-grace'), log);
  const repo = await openRepo(repoSpec(o));
  try {
    const source = await repo.source(o.ref);
    await verifySource(source, o, io);
    const opts = await loadOptions({ ...o, stateDir });
    const desired = await loadDesiredState(await decrypting(source, o, true), device, opts);
    if (o.output !== 'json') printWarnings(io, desired.warnings);
    const artifactKeys = o.artifactKey?.length ? { artifactKeys: o.artifactKey } : {};
    const policy = opts.policy ? { policy: opts.policy } : {};
    const appliers = await new Gateway({ ...o, stateDir, ...artifactKeys, ...policy }, log).appliers(desired, source);
    const r = await reconcileOnce(desired, {
      ...appliers,
      stateDir,
      log,
      refreshImages: refreshableImages(desired),
      scriptTimeouts: scriptTimeouts(o),
    });
    const plan = presentPlan(r.plan, desired, opts.variables ?? {});
    if (o.output === 'json')
      io.out(JSON.stringify({ resumed: r.resumed ?? null, plan, outcome: r.outcome ?? null }, null, 2) + '\n');
    else {
      if (r.resumed)
        io.out(`An apply interrupted in its ${r.resumed.interruptedIn} phase was ${RESUMED[r.resumed.action]}.\n`);
      io.out(renderPlan(plan, { colour: io.colour }));
      const out = r.outcome;
      if (!out) io.out('Nothing to apply.\n');
      else if (out.status === 'applied')
        io.out(
          out.finalizeErrors.length
            ? `Applied, with clean-up left for the next reconcile: ${out.finalizeErrors.join('; ')}.\n`
            : 'Applied.\n',
        );
      else if (out.status === 'prepare-failed') io.err(`error: nothing was changed: ${out.error}\n`);
      else if (out.status === 'rolled-back')
        io.err(`ROLLED BACK: ${out.error}\nThe gateway runs what it ran before this apply.\n`);
      else io.err(`ROLLBACK INCOMPLETE: ${out.error}\nCould not put back: ${out.undoErrors.join('; ')}\n`);
    }
    const s = r.outcome?.status;
    return !s || s === 'applied'
      ? EXIT_OK
      : s === 'prepare-failed'
        ? EXIT_ERROR
        : s === 'rolled-back'
          ? EXIT_ROLLED_BACK
          : EXIT_ROLLBACK_INCOMPLETE;
  } finally {
    repo.close();
  }
}

export interface ObserveCommandOptions extends GatewayOptions {
  stateDir: string;
  save?: string;
  output: 'human' | 'json';
}

export async function runObserve(o: ObserveCommandOptions, io: Io): Promise<number> {
  const gateway = new Gateway(o, humanLog(io, true));
  const observed = await gateway.observe();
  if (gateway.noEngine) io.err(`! ${gateway.noEngine}; containers are not observed\n`);
  const json = JSON.stringify(observed, null, 2) + '\n';
  if (o.save) {
    await writeFileAtomic(resolve(o.save), json);
    io.err(`saved to ${o.save}; diff against it with: rollgate diff --against file:${o.save}\n`);
  }
  if (o.output === 'json') io.out(json);
  else if (!o.save) {
    io.out(`${observed.origin}\n`);
    for (const c of observed.containers)
      io.out(
        `  ${c.app}/${c.service}  ${c.state}${c.health ? ` (${c.health})` : ''}  ${c.image} ` +
          ` ${c.containerId.slice(0, 12)}  ` +
          `config ${c.configHash.slice(0, 12)}${c.commit ? `  commit ${c.commit.slice(0, 12)}` : ''}\n`,
      );
    for (const n of observed.networks) io.out(`  network ${n.app}/${n.name}\n`);
    for (const v of observed.volumes) io.out(`  volume ${v.app}/${v.name}\n`);
    if (observed.containers.length === 0) io.out('  no containers managed by rollgate\n');
    for (const c of observed.components)
      io.out(
        `  component ${c.key} (${c.type}${c.id && c.id !== c.key ? `, id ${c.id}` : ''}) ` +
          ` ${c.version ?? 'version unknown'}\n`,
      );
    if (observed.components.length === 0) io.out('  no device components recorded in the state directory\n');
  }
  return EXIT_OK;
}
