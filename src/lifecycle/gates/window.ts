// The maintenance window gate (README "Maintenance windows"): a commit that would change the
// gateway waits for the window its fleet file gives this gateway — deferred `until` the window
// opens with the transaction's expected duration left, the gateway keeping what it runs, nothing
// recorded as bad. It sits after the rollout gate (which decides what to run) and before the
// policy gate (no need to load a commit that cannot run now).
//
// A return is not held (by default): the last good commit again, a rollout's base after an abort,
// or a commit that gives the gateway what a commit it ran good gave it (a `git revert`). Health
// failures roll back inside the transaction and never reach a gate at all.
//
// An app may carry its own window (`x-rollgate.window`): a commit that changes the app waits for
// it and the target's together — the transaction starts when every window of what changes is open.
//
// A clock that is obviously wrong — before the commit's own date, or one the system says is not
// synchronised — opens no window by itself: the commit waits, and the deferral says why.

import { formatDuration } from '../../base/duration.js';
import { shortCommit } from '../../base/short-commit.js';
import { FleetRepoError, formatInZone, nextStartAll } from '../../manifest/index.js';
import type { DesiredApp } from '../../model/index.js';
import type { MaintenanceWindow } from '../../model/window.js';
import { ADMIT, type Gate, type GateAnswer, type GatePorts, type Subject } from './gate.js';

/** How far a commit's date may be ahead of the gateway's clock before the clock counts as wrong. */
export const COMMIT_CLOCK_SLACK_MS = 10 * 60_000;

/** How many good commits a commit is compared with to find a revert: the last good one and two before it. */
export const REVERT_LOOKBACK = 3;

/** What a commit gives this gateway, whichever commit it is: its desired state but for its source. */
async function sameness(p: GatePorts, commit: string): Promise<string> {
  const { desired } = await p.load(commit);
  return JSON.stringify({ ...desired, source: null });
}

/**
 * Why running `s.commit` is a return to what the gateway ran before; undefined when it is not one.
 * By id: the last good commit, or the base of an aborted rollout. By content: a commit that gives
 * this gateway exactly what a commit it ran good gave it (a `git revert` of the last change, or of
 * the two before it) — its desired state, loaded as the policy gate loads it, is that commit's.
 */
async function returning(s: Subject, p: GatePorts): Promise<string | undefined> {
  if (s.lastGood !== undefined && s.commit === s.lastGood) return 'the last good commit';
  const r = s.rollout;
  if (r && r.code === 'aborted' && s.commit === r.base) return `the base of the aborted rollout ${r.id}`;
  const good = [...new Set([s.lastGood, ...(s.earlierGood ?? [])])]
    .filter((c): c is string => c !== undefined && c !== s.commit)
    .slice(0, REVERT_LOOKBACK);
  if (good.length === 0) return undefined;
  let mine: string;
  try {
    mine = await sameness(p, s.commit);
  } catch {
    return undefined; // a commit that does not load is the policy gate's to refuse
  }
  for (const g of good) {
    const theirs = await sameness(p, g).catch(() => undefined);
    if (theirs === mine)
      return (
        `what ${g === s.lastGood ? 'the last good commit' : 'the earlier good commit'} ${shortCommit(g)} gave ` +
        'this gateway'
      );
  }
  return undefined;
}

/**
 * The windows of the apps `s.commit` changes on this gateway (README "Maintenance windows": an
 * app's own `x-rollgate.window`): an app it adds, or whose desired state differs from the applied
 * commit's but for the window itself. A commit that does not load has none here: the policy gate
 * refuses it; an applied commit that does not load any more counts every app as changed.
 */
async function changedAppWindows(s: Subject, p: GatePorts): Promise<MaintenanceWindow[]> {
  let apps: DesiredApp[];
  try {
    apps = (await p.load(s.commit)).desired.apps.filter((a) => a.window);
  } catch {
    return [];
  }
  if (apps.length === 0) return [];
  const before = s.applied
    ? await p.load(s.applied).then(
        (l) => l.desired.apps,
        () => undefined,
      )
    : [];
  const same = (a: DesiredApp, b: DesiredApp | undefined) =>
    b !== undefined && JSON.stringify({ ...a, window: null }) === JSON.stringify({ ...b, window: null });
  return apps
    .filter(
      (a) =>
        !before ||
        !same(
          a,
          before.find((b) => b.name === a.name),
        ),
    )
    .map((a) => a.window!);
}

/**
 * Several windows as one, for what is said and decided of them all: a return waits only when one
 * of them says `in-window`; the zone of the first names the moment; where each is written.
 */
function together(ws: MaintenanceWindow[]): MaintenanceWindow {
  if (ws.length === 1) return ws[0]!;
  return {
    zone: ws[0]!.zone,
    openings: [],
    expectedMs: Math.max(...ws.map((w) => w.expectedMs)),
    rollbacks: ws.some((w) => w.rollbacks === 'in-window') ? 'in-window' : 'at-once',
    from: ws.map((w) => w.from).join(' and '),
  };
}

const iso = (t: number) => new Date(t).toISOString();

function waiting(s: Subject, w: MaintenanceWindow, at: number | undefined): GateAnswer {
  if (at === undefined)
    return {
      kind: 'defer',
      cause: `window ${w.from} never long enough`,
      why:
        `waiting for a maintenance window (${w.from}): none in the next year stays open for the ` +
        `expected ${formatDuration(w.expectedMs)} of a transaction`,
    };
  const opens = formatInZone(at, w.zone);
  return {
    kind: 'defer',
    cause: `window ${w.from} opens ${iso(at)}`,
    why:
      `waiting for the window that opens at ${opens} (${w.from}; a transaction starts with at least ` +
      `${formatDuration(w.expectedMs)} of the window left); the gateway keeps ${shortCommit(s.applied)}`,
    until: `the window opens at ${opens}`,
    opensAt: at,
  };
}

export const windowGate: Gate = {
  name: 'window',
  phase: 'apply',
  why: 'when the gateway may change; asked only when there is a change to make, before the commit is loaded',
  async check(s, p) {
    if (!p.maintenanceWindow) return ADMIT;
    let w: MaintenanceWindow | undefined;
    try {
      w = await p.maintenanceWindow(s.commit);
    } catch (err) {
      // A fleet file that does not hold is the policy gate's to refuse, with all its problems.
      if (err instanceof FleetRepoError && !err.gatewayFault) return ADMIT;
      throw err;
    }
    const parts = [...(w ? [w] : []), ...(await changedAppWindows(s, p))];
    if (parts.length === 0) return ADMIT;
    w = together(parts);
    const back = w.rollbacks === 'at-once' ? await returning(s, p) : undefined;
    if (back) return { kind: 'admit', note: `${shortCommit(s.commit)} is ${back}: a return is not held by the window` };
    const clock = p.clock ? await p.clock() : { now: Date.now() };
    const now = clock.now;
    if (clock.synchronised === false)
      return {
        kind: 'defer',
        cause: 'clock not synchronised',
        why:
          `the gateway's clock is not synchronised (${clock.source ?? 'the system says so'}): a clock that may be ` +
          `wrong opens no maintenance window (${w.from}) by itself; the commit waits until it is synchronised`,
        until: "the gateway's clock is synchronised",
      };
    if (p.commitTime) {
      const committed = await p.commitTime(s.commit);
      if (now + COMMIT_CLOCK_SLACK_MS < committed)
        return {
          kind: 'defer',
          cause: 'clock before the commit',
          why:
            `the gateway's clock (${iso(now)}) is before the date of commit ${shortCommit(s.commit)} ` +
            `(${iso(committed)}): a clock this wrong opens no maintenance window (${w.from}) by itself; ` +
            'the commit waits until the clock is set',
          until: "the gateway's clock is past the commit's date",
        };
    }
    const at = nextStartAll(parts, now);
    if (at === now) return ADMIT;
    return waiting(s, w, at);
  },
};
