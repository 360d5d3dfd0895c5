// One step of a rollout, from reading the branch to the pushed commit: read the head and its
// rollgate-rollout.yaml, decide (the caller's pure decision), write the new file as one signed
// commit that changes it alone, check it as a gateway would, and publish it only if the branch has
// not moved. A branch that moved is read again and the step decided again, a bounded number of
// times; nothing is ever forced. Killed anywhere before the push, nothing is written, and the next
// run decides again from the branch as it is (ROLLGATE_CRASH_AT=promote-push kills it right there).

import { crashPoint } from '../apply/crash-points.js';
import { FleetRepoError, readFleet, RepoPathError } from '../manifest/index.js';
import type { RolloutOutcome } from '../model/rollout.js';
import {
  parseRolloutState,
  renderRolloutState,
  ROLLOUT_FILE,
  stateAgainstPolicy,
  type ParsedRolloutState,
} from '../rollout/index.js';
import type { PromoterRepo } from './repo.js';
import type { CommitSigner } from './signer.js';

/** rollgate-rollout.yaml is read up to this, as gateways read it. */
const MAX_STATE_BYTES = 1024 * 1024;

/** The branch as one attempt read it. */
export interface BranchView {
  head: string;
  /** rollgate-rollout.yaml at the head; absent when no rollout ever ran on the branch. */
  state?: ParsedRolloutState;
}

export interface StepRun {
  repo: PromoterRepo;
  signer: CommitSigner;
  /** Decides what to write on the branch as read (pure, apart from what it reads: the hub's evidence). */
  decide(view: BranchView): Promise<RolloutOutcome>;
  /** Reads of the branch when a push finds it moved. */
  attempts?: number;
  /** Said when the branch moved and the step is decided again. */
  note?: (line: string) => void;
}

export interface StepResult {
  outcome: RolloutOutcome;
  /** The commit published, when one was. */
  commit?: string;
  /** The head the decision was made on. */
  head: string;
}

const short = (c: string) => c.slice(0, 12);

/** rollgate-rollout.yaml at a commit, checked on its own; undefined when there is none. */
export async function readRolloutState(repo: PromoterRepo, commit: string): Promise<ParsedRolloutState | undefined> {
  let file;
  try {
    file = await repo.source(commit).read(ROLLOUT_FILE, { maxBytes: MAX_STATE_BYTES });
  } catch (err) {
    if (err instanceof RepoPathError) throw new FleetRepoError([{ file: ROLLOUT_FILE, message: err.message }]);
    throw err;
  }
  return file ? parseRolloutState(file.bytes) : undefined;
}

/** The file as written, read back and checked against its target's policy, exactly as a gateway checks it. */
async function checkWritten(repo: PromoterRepo, text: string, target: string): Promise<void> {
  const parsed = parseRolloutState(new TextEncoder().encode(text));
  const { rollout } = await readFleet(repo.source(target));
  const problems = stateAgainstPolicy(parsed, rollout);
  if (problems.length) throw new FleetRepoError(problems);
}

export function commitMessage(o: Extract<RolloutOutcome, { kind: 'write' }>): string {
  const s = o.step;
  const where = s.track !== undefined ? ` (${s.track}${s.wave !== undefined ? `, wave ${s.wave + 1}` : ''})` : '';
  return `${o.title}\n\n${s.why}\n\n${s.action}${where} by ${s.by} at ${s.at}\n`;
}

export async function runStep(o: StepRun): Promise<StepResult> {
  const attempts = o.attempts ?? 5;
  let moved = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const head = await o.repo.head();
    const state = await readRolloutState(o.repo, head);
    const outcome = await o.decide({ head, ...(state ? { state } : {}) });
    if (outcome.kind === 'none') return { outcome, head };
    const text = renderRolloutState(outcome.state);
    await checkWritten(o.repo, text, outcome.state.target);
    const commit = await o.repo.commitFile(head, ROLLOUT_FILE, text, commitMessage(outcome), o.signer);
    crashPoint('promote-push');
    if ((await o.repo.publish(commit, head)) === 'pushed') return { outcome, commit, head };
    moved = `the branch moved from ${short(head)} while the step was written`;
    o.note?.(`${moved}; reading it again and deciding anew (attempt ${attempt + 1} of ${attempts})`);
  }
  throw new Error(
    `${moved}, ${attempts} times: nothing was written (the branch of ${o.repo.name} is changing fast; run again)`,
  );
}
