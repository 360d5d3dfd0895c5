// `rollgate rollout explain`: what a gateway runs now under the fleet's staged rollout, and why —
// worked out offline from the fleet repo alone, as the gateway itself would: no hub, no network
// beyond the repo.

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  FleetRepoError,
  findTarget,
  formatInZone,
  formatProblem,
  GitObjectSource,
  nextStart,
  readFleet,
  RepoPathError,
  windowAt,
  windowOfTarget,
} from '../manifest/index.js';
import { formatDuration } from '../base/duration.js';
import type { MaintenanceWindow } from '../model/window.js';
import type { RepoFile } from '../manifest/source.js';
import type { Admission, RolloutPolicy, RolloutState, TrackKey } from '../model/rollout.js';
import { isUrl } from '../sync/index.js';
import {
  admit,
  openedWaves,
  parseRolloutState,
  ROLLOUT_FILE,
  stateAgainstPolicy,
  trackName,
  trackOf,
} from '../rollout/index.js';
import { EXIT_ERROR, EXIT_OK, repoSpec, reportError, type Io, type RepoOptions } from './commands.js';
import { terminalText } from './fleet-command.js';
import { parseIdentity } from './identity.js';
import { openRepo } from './open-repo.js';

export interface ExplainOptions extends RepoOptions {
  ref: string;
  id?: string;
  label: string[];
  output: 'human' | 'json';
}

/** The largest rollgate-rollout.yaml read, as any fleet repo file. */
const MAX_STATE_BYTES = 1024 * 1024;

const short = (c: string) => c.slice(0, 12);

/** The policy's waves as the output lists them: how each chooses, whether it is open. */
function wavesOf(policy: RolloutPolicy, state: RolloutState, key: TrackKey) {
  const opened = openedWaves(state, key);
  return policy.waves.map((w, index) => ({
    index,
    number: index + 1,
    name: w.name,
    ...(w.select.kind === 'percent' ? { percent: w.select.percent } : { match: w.select.match }),
    open: index < opened.length,
    ...(opened[index] ? { opened: opened[index]!.opened } : {}),
    ...(opened[index]?.threshold !== undefined ? { threshold: opened[index]!.threshold } : {}),
  }));
}

function waveLine(a: Admission): string {
  const w = a.wave;
  if (!w) return '—';
  const head = `${w.index + 1} of ${w.of} "${w.name}"`;
  if (w.by === 'match') return `${head}: its match names this gateway (waves that name gateways take theirs first)`;
  return (
    `${head}: its bucket ${w.bucket!.toFixed(6)} is under this wave's threshold ${w.threshold!.toFixed(6)}` +
    `${w.exact ? ' (exact: published by the promoter)' : ''} and not under an earlier wave's`
  );
}

/** The gateway's maintenance window now: open, or when a change may start. */
function windowNow(w: MaintenanceWindow, now: number) {
  const at = windowAt(w, now);
  const start = nextStart(w, now);
  return {
    from: w.from,
    zone: w.zone,
    open: at.open,
    ...(at.open ? { closesAt: new Date(at.closesAt).toISOString() } : {}),
    startsAt: start === undefined ? null : new Date(start).toISOString(),
    text:
      start === now
        ? `${w.from}: open, ${formatDuration((at as { leftMs: number }).leftMs)} left: a change starts now`
        : start === undefined
          ? `${w.from}: no opening within a year leaves ${formatDuration(w.expectedMs)} for a transaction`
          : `${w.from}: ${at.open ? 'open, too little left' : 'closed'}; a change waits for the window that ` +
            `opens at ${formatInZone(start, w.zone)}`,
  };
}

export async function runRolloutExplain(o: ExplainOptions, io: Io): Promise<number> {
  const gateway = parseIdentity(o.id, o.label);
  if (!isUrl(o.repo)) {
    const root = resolve(o.repo);
    if (!existsSync(join(root, '.git')) && !(existsSync(join(root, 'HEAD')) && existsSync(join(root, 'objects'))))
      throw new Error(
        `${o.repo} is not a git repository: rollout explain reads commits, as gateways do (the branch's head and ` +
          'the rollout target), so --repo is a git repository (a checkout or a bare repo) or its URL',
      );
  }
  const repo = await openRepo(repoSpec(o));
  try {
    const head = await repo.source(o.ref);
    if (!(head instanceof GitObjectSource)) throw new Error(`--ref ${o.ref} did not name a commit`);
    let file: RepoFile | null;
    try {
      file = await head.read(ROLLOUT_FILE, { maxBytes: MAX_STATE_BYTES });
    } catch (err) {
      if (err instanceof RepoPathError) throw new FleetRepoError([{ file: ROLLOUT_FILE, message: err.message }]);
      throw err;
    }
    const parsed = file ? parseRolloutState(file.bytes) : undefined;
    const state = parsed?.state;
    // Under a rollout the policy is the target's: the one that came with the commit rolled out.
    const { fleet, rollout } = await (state ? repo.source(state.target) : Promise.resolve(head))
      .then(readFleet)
      .catch((err: unknown) => {
        if (!state || err instanceof FleetRepoError) throw err;
        throw new Error(
          `the rollout's target ${short(state.target)} (${ROLLOUT_FILE} at ${o.ref}) cannot be read from ${o.repo}: ` +
            `${(err as Error).message.replace(/\.+$/, '')}. It must be a commit of the branch's history` +
            (isUrl(o.repo) ? `; a larger --depth (now ${o.depth}) fetches more of it` : ''),
        );
      });
    if (parsed) {
      const problems = stateAgainstPolicy(parsed, rollout);
      if (problems.length) throw new FleetRepoError(problems);
    }
    const ti = findTarget(fleet, gateway);
    const fleetTarget = ti >= 0 ? fleet.targets[ti]!.name : undefined;
    const { key, policy } = trackOf(rollout, fleetTarget);
    const a = admit({ gateway, head: head.commit, policy, track: key, ...(state ? { state } : {}) });
    const mw = ti >= 0 ? windowOfTarget(fleet, ti) : undefined;
    const window = mw ? windowNow(mw, Date.now()) : null;

    const rolloutOut = state
      ? {
          id: state.id,
          state: state.state,
          base: state.base,
          target: state.target,
          track: trackName(key),
          waves: policy && policy !== 'none' ? wavesOf(policy, state, key) : [],
        }
      : null;
    if (o.output === 'json') {
      const out = {
        gateway,
        head: head.commit,
        fleetTarget: fleetTarget ?? null,
        rollout: rolloutOut,
        wave: a.wave ? { ...a.wave, number: a.wave.index + 1 } : null,
        admitted: a.admitted,
        runs: a.runs,
        reason: a.reason,
        window,
      };
      io.out(JSON.stringify(out, null, 2) + '\n');
      return EXIT_OK;
    }
    const t = terminalText;
    const labels = Object.entries(gateway.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    if (rolloutOut) {
      io.out(
        `Rollout ${rolloutOut.id} (${rolloutOut.state}) at ${t(o.ref)} ${short(head.commit)}: base ` +
          `${short(rolloutOut.base)}, target ${short(rolloutOut.target)}\n`,
      );
      const list = rolloutOut.waves.map((w) => `${w.number} ${w.name}${w.open ? ' (open)' : ''}`).join(', ');
      io.out(`  waves of the ${rolloutOut.track} policy (target's rollgate.yaml): ${list || 'none'}\n`);
    } else io.out(`No rollout at ${t(o.ref)} ${short(head.commit)} (no ${ROLLOUT_FILE})\n`);
    io.out(
      `Gateway ${t(gateway.id)}${labels ? ` (${t(labels)})` : ''}, ` +
        (fleetTarget
          ? `fleet target "${fleetTarget}"\n`
          : 'matched by no fleet target (its agent reports config-error)\n'),
    );
    io.out(`  wave      ${waveLine(a)}\n`);
    io.out(`  admitted  ${a.admitted ? 'yes' : 'no'}\n`);
    io.out(`  runs      ${short(a.runs.commit)} (the ${a.runs.as === 'head' ? 'branch head' : a.runs.as})\n`);
    io.out(`  reason    ${t(a.reason.message)}\n`);
    io.out(`  window    ${window ? t(window.text) : 'none: it changes as soon as it may run a commit'}\n`);
    return EXIT_OK;
  } finally {
    repo.close();
  }
}

/** Errors of the repo's rollout files are named as such; anything else as every command does. */
export function reportRolloutError(err: unknown, io: Io): number {
  if (err instanceof FleetRepoError) {
    io.err('error: the fleet repo is invalid, so the rollout cannot be explained\n');
    for (const p of err.problems) io.err(`  ${terminalText(formatProblem(p))}\n`);
    return EXIT_ERROR;
  }
  return reportError(err, io);
}
