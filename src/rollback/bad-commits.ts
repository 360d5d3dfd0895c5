// Commits that failed: recorded with the reason, never applied again automatically (safety rule
// 5). Pure functions over the list the agent persists.

export type FailureKind =
  /** The fleet repo at this commit did not load (schema, constraints, missing files). */
  | 'invalid'
  /** A step failed and the apply was rolled back. */
  | 'apply-failed'
  /** The apply went through, and the health window failed. */
  | 'health-failed'
  /** It failed and could not be put back completely. */
  | 'rollback-incomplete'
  /** The agent was killed while applying it, again and again. */
  | 'interrupted';

export interface BadCommit {
  commit: string;
  kind: FailureKind;
  reason: string;
  /** ISO time it was recorded. */
  at: string;
  /** The step that failed, when one did. */
  step?: string;
}

/** Old records beyond this are dropped; a commit that old is far behind the branch. */
export const MAX_BAD_COMMITS = 100;

export function badRecord(list: readonly BadCommit[], commit: string): BadCommit | undefined {
  return list.find((b) => b.commit === commit);
}

export function withBad(list: readonly BadCommit[], bad: BadCommit): BadCommit[] {
  return [...list.filter((b) => b.commit !== bad.commit), bad].slice(-MAX_BAD_COMMITS);
}
