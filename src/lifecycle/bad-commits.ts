// Commits that failed: recorded with the reason, never applied again automatically (safety rule
// 5). Pure functions over the list the agent persists.

import type { AgentState, BadCommit } from '../model/index.js';
import { shortCommit } from '../base/short-commit.js';

/** Old records beyond this are dropped; a commit that old is far behind the branch. */
export const MAX_BAD_COMMITS = 100;

export function badRecord(list: readonly BadCommit[], commit: string): BadCommit | undefined {
  return list.find((b) => b.commit === commit);
}

export function withBad(list: readonly BadCommit[], bad: BadCommit): BadCommit[] {
  return [...list.filter((b) => b.commit !== bad.commit), bad].slice(-MAX_BAD_COMMITS);
}

/** What an operator asks `rollgate forget` to clear. */
export interface ForgetRequest {
  /** The commit, in full or abbreviated (at least 4 hex digits, as git abbreviates). */
  commit: string;
  /** Why: kept in the history with who asked and when. */
  reason: string;
  /** Who asked: the user running `rollgate forget`. */
  by: string;
}

export class ForgetError extends Error {
  override name = 'ForgetError';
}

/** The one bad record `commit` (full or abbreviated) names; ForgetError when none or several do. */
export function findBad(list: readonly BadCommit[], commit: string): BadCommit {
  const want = commit.trim().toLowerCase();
  if (!/^[0-9a-f]{4,64}$/.test(want))
    throw new ForgetError(`"${commit}" is not a commit id (4 to 64 hexadecimal digits, as git prints them)`);
  const known = list.length
    ? `the bad commits here are: ${list.map((b) => `${shortCommit(b.commit)} (${b.kind})`).join(', ')}`
    : 'this gateway has no bad commits';
  const found = list.filter((b) => b.commit.startsWith(want));
  if (found.length === 0) throw new ForgetError(`${commit} is not recorded as bad on this gateway; ${known}`);
  if (found.length > 1)
    throw new ForgetError(
      `${commit} names ${found.length} bad commits (${found.map((b) => shortCommit(b.commit)).join(', ')}); ` +
        'give more of it',
    );
  return found[0]!;
}

/**
 * The state with one bad record cleared by an operator, and a history entry saying who, when and
 * why: the next poll may apply that commit again (safety rule 5 holds for what the agent decides
 * on its own; this is a person's decision, and recorded as one).
 */
export function forgetBad(
  state: AgentState,
  req: ForgetRequest,
  at: string,
): { state: AgentState; forgotten: BadCommit } {
  const why = req.reason.trim();
  if (!why) throw new ForgetError('say why with --reason: it is kept in the history with who asked and when');
  const bad = findBad(state.bad, req.commit);
  const s = structuredClone(state);
  s.bad = s.bad.filter((b) => b.commit !== bad.commit);
  s.history.push({
    at,
    event: 'forgotten',
    commit: bad.commit,
    by: req.by,
    detail: `${req.by} cleared its bad record (${bad.kind}: ${bad.reason.split('\n')[0]}): ${why}`,
  });
  return { state: s, forgotten: bad };
}
