// How a commit is named to people: its first 12 hex digits, in logs, messages, the CLI and the hub's
// page alike, so one commit reads the same wherever it is named.

/** The first 12 hex digits of a commit id; `none` (or what the caller says) when there is no commit. */
export function shortCommit(commit: string | undefined, none = 'none'): string {
  return commit ? commit.slice(0, 12) : none;
}
