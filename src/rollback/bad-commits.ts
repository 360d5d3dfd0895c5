// Commits that failed: recorded with the reason, never applied again automatically (safety rule
// 5). Pure functions over the list the agent persists.

import type { BadCommit } from '../model/index.js';

/** Old records beyond this are dropped; a commit that old is far behind the branch. */
export const MAX_BAD_COMMITS = 100;

export function badRecord(list: readonly BadCommit[], commit: string): BadCommit | undefined {
  return list.find((b) => b.commit === commit);
}

export function withBad(list: readonly BadCommit[], bad: BadCommit): BadCommit[] {
  return [...list.filter((b) => b.commit !== bad.commit), bad].slice(-MAX_BAD_COMMITS);
}
