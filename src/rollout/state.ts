// rollgate-rollout.yaml: the rollout's progress, at the root of the fleet repo, written only by the
// promoter (and by people through it). Read from the branch's head in the same poll as everything
// else; checked here purely — its shape against schemas/rollout-state.schema.json, its own rules,
// and then against the policy of the target commit — with problems at file:line:column.

import { FleetRepoError, Problems, type Problem } from '../manifest/problems.js';
import { RepoPathError, type RepoSource } from '../manifest/source.js';
import { validateSchema } from '../manifest/schema.js';
import { parseYamlFile, problemAt, type PathSeg, type YamlFile } from '../manifest/yaml-file.js';
import type { FleetRollout, OpenedWave, RolloutState, TrackKey, TrackPolicy } from '../model/rollout.js';
import { waveThreshold } from './membership.js';
import { shortCommit } from '../base/short-commit.js';

export const ROLLOUT_FILE = 'rollgate-rollout.yaml';

export interface ParsedRolloutState {
  state: RolloutState;
  /** The file as parsed, for problems found later (against the target's policy) to point into. */
  y: YamlFile;
}

/** Milliseconds of a time the schema has checked the shape of; NaN for a date that does not exist. */
export function timeOf(iso: string): number {
  const t = Date.parse(iso);
  // Date.parse rolls 2026-02-30 over to March: such a date is not the one written.
  return Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== iso.slice(0, 10) ? NaN : t;
}

/** The rules of the state on its own, each at the value that breaks it. */
function stateProblems(s: RolloutState, y: YamlFile, problems: Problems): void {
  const at = (path: PathSeg[], message: string) => problemAt(problems, y, path, message);
  if (s.base === s.target) at(['target'], `target is the base ${shortCommit(s.base)}: there is nothing to roll out`);
  const bad = new Map<string, number>();
  s.bad.forEach((b, i) => {
    if (bad.has(b.commit))
      at(
        ['bad', i, 'commit'],
        `commit ${shortCommit(b.commit)} is listed as bad twice (first at bad[${bad.get(b.commit)}])`,
      );
    bad.set(b.commit, i);
  });
  if (bad.has(s.base))
    at(['base'], `base ${shortCommit(s.base)} is listed under bad: the base is what every gateway falls back to`);
  const targetBad = bad.get(s.target);
  if (targetBad !== undefined && s.state !== 'aborted')
    at(
      ['target'],
      `target ${shortCommit(s.target)} is a bad commit (bad[${targetBad}]: ${s.bad[targetBad]!.reason}): ` +
        'a bad commit is never rolled out again',
    );
  if (targetBad === undefined && s.state === 'aborted')
    at(
      ['state'],
      `an aborted rollout's target ${shortCommit(s.target)} must be listed under bad, so it is never tried again`,
    );
  const times = (list: { path: PathSeg[]; iso: string }[], what: string) => {
    let last = -Infinity;
    for (const t of list) {
      const ms = timeOf(t.iso);
      if (Number.isNaN(ms)) at(t.path, `${t.iso} is not a date`);
      else if (ms < last) at(t.path, `${t.iso} is earlier than the ${what} before it: they are in time order`);
      else last = ms;
    }
  };
  times(
    s.steps.map((st, i) => ({ path: ['steps', i, 'at'], iso: st.at })),
    'step',
  );
  const tracks: [PathSeg[], OpenedWave[]][] = [
    [['waves', 'fleet'], s.waves.fleet],
    ...Object.entries(s.waves.targets).map(([n, l]): [PathSeg[], OpenedWave[]] => [['waves', 'targets', n], l]),
  ];
  for (const [path, list] of tracks) {
    times(
      list.map((w, i) => ({ path: [...path, i, 'opened'], iso: w.opened })),
      'opening of the wave',
    );
    list.forEach((w, i) => {
      if (w.resumed === undefined) return;
      const r = timeOf(w.resumed);
      if (Number.isNaN(r)) at([...path, i, 'resumed'], `${w.resumed} is not a date`);
      else if (r < timeOf(w.opened)) at([...path, i, 'resumed'], `resumed ${w.resumed} is before the wave opened`);
    });
  }
}

/** Reads rollgate-rollout.yaml; throws FleetRepoError with every problem of it. */
export function parseRolloutState(bytes: Uint8Array, file = ROLLOUT_FILE): ParsedRolloutState {
  const problems = new Problems();
  const y = parseYamlFile(file, bytes, problems);
  if (!y || !validateSchema('rollout-state', y, problems)) throw new FleetRepoError(problems.list);
  const raw = y.value as Omit<RolloutState, 'waves' | 'bad' | 'steps'> & {
    apiVersion: string;
    kind: string;
    waves?: { fleet?: OpenedWave[]; targets?: Record<string, OpenedWave[]> };
    bad?: RolloutState['bad'];
    steps?: RolloutState['steps'];
  };
  const state: RolloutState = {
    id: raw.id,
    salt: raw.salt,
    base: raw.base,
    target: raw.target,
    state: raw.state,
    waves: { fleet: raw.waves?.fleet ?? [], targets: raw.waves?.targets ?? {} },
    bad: raw.bad ?? [],
    steps: raw.steps ?? [],
  };
  stateProblems(state, y, problems);
  problems.bail();
  return { state, y };
}

/** The largest rollgate-rollout.yaml read, as any fleet repo file (it is written by a promoter, signed, small). */
const MAX_ROLLOUT_STATE_BYTES = 1024 * 1024;

/** The rollout state file of a commit (undefined: it has none); FleetRepoError when it does not hold. */
export async function readRolloutState(repo: RepoSource): Promise<ParsedRolloutState | undefined> {
  let file;
  try {
    file = await repo.read(ROLLOUT_FILE, { maxBytes: MAX_ROLLOUT_STATE_BYTES });
  } catch (err) {
    if (err instanceof RepoPathError) throw new FleetRepoError([{ file: ROLLOUT_FILE, message: err.message }]);
    throw err;
  }
  return file ? parseRolloutState(file.bytes) : undefined;
}

export function trackName(key: TrackKey): string {
  return key.kind === 'fleet' ? 'fleet' : `target:${key.name}`;
}

/** The gateway's policy and whose it is: its fleet target's own, else the fleet's. */
export function trackOf(fleet: FleetRollout, targetName: string | undefined): { key: TrackKey; policy: TrackPolicy } {
  const own = targetName === undefined ? undefined : fleet.targets[targetName];
  if (own !== undefined) return { key: { kind: 'target', name: targetName! }, policy: own };
  return { key: { kind: 'fleet' }, policy: fleet.fleet };
}

/** The waves of a track opened so far. */
export function openedWaves(state: RolloutState, key: TrackKey): OpenedWave[] {
  return key.kind === 'fleet' ? state.waves.fleet : (state.waves.targets[key.name] ?? []);
}

/**
 * The state against the policy of its target commit (`fleet`, from the target's rollgate.yaml):
 * only policies that have waves have opened waves, no more than they have, and a published
 * threshold only on a percent wave below 100, never below the one of the wave before.
 */
export function stateAgainstPolicy(parsed: ParsedRolloutState, fleet: FleetRollout): Problem[] {
  const { state, y } = parsed;
  const problems = new Problems();
  const at = (path: PathSeg[], message: string) => problemAt(problems, y, path, message, 'key');
  const tracks: [TrackKey, PathSeg[], OpenedWave[]][] = [
    [{ kind: 'fleet' }, ['waves', 'fleet'], state.waves.fleet],
    ...Object.entries(state.waves.targets).map(([name, l]): [TrackKey, PathSeg[], OpenedWave[]] => [
      { kind: 'target', name },
      ['waves', 'targets', name],
      l,
    ]),
  ];
  for (const [key, path, opened] of tracks) {
    if (opened.length === 0) continue;
    const policy = key.kind === 'fleet' ? fleet.fleet : fleet.targets[key.name];
    const whose = key.kind === 'fleet' ? 'the fleet' : `target "${key.name}"`;
    if (policy === undefined || policy === 'none') {
      at(
        path,
        `opens waves of ${whose}, but rollgate.yaml of the target ${shortCommit(state.target)} gives ${whose} ` +
          'no waves' +
          (key.kind === 'target' && policy === undefined ? ' (no rollout of its own)' : ''),
      );
      continue;
    }
    if (opened.length > policy.waves.length)
      at(path, `opens ${opened.length} waves of ${whose}, whose policy has ${policy.waves.length}`);
    const published = opened.map((w) => w.threshold);
    let floor = 0;
    policy.waves.forEach((w, i) => {
      if (w.select.kind !== 'percent') {
        if (published[i] !== undefined)
          at([...path, i, 'threshold'], `wave ${i + 1} ("${w.name}") is chosen by match: it has no threshold`);
        return;
      }
      if (published[i] !== undefined && w.select.percent >= 100)
        at([...path, i, 'threshold'], `wave ${i + 1} ("${w.name}") takes every gateway left: it has no threshold`);
      const { threshold } = waveThreshold(policy, i, published);
      if (published[i] !== undefined && threshold < floor)
        at(
          [...path, i, 'threshold'],
          `threshold ${threshold} of wave ${i + 1} ("${w.name}") is below ${floor} of a wave before it: a later ` +
            'wave takes the gateways up to a higher threshold',
        );
      floor = Math.max(floor, threshold);
    });
  }
  return problems.list;
}
