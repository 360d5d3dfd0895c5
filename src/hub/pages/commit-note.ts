// What the pages put next to a commit id once the hub reads the fleet repo: its subject line, and a
// mark on what the fleet should run by the branch's head — the head itself, or under a rollout its
// target (rolling out, or complete) and its base (what gateways not admitted run, and everyone after
// an abort). Without a read, nothing.

import { html, type Html } from '../html.js';
import type { RepoSnapshot } from '../fleet-repo.js';

/** The note for one commit id (full). */
export type CommitNote = (commit: string) => Html;

/** The marks by commit: what the head says of it. */
function marksOf(snap: RepoSnapshot): Map<string, string> {
  const r = snap.rollouts.find((x) => x.current)?.state;
  if (!r) return new Map([[snap.head, 'head']]);
  switch (r.state) {
    case 'complete':
      return new Map([[r.target, 'head']]);
    case 'aborted':
      return new Map([
        [r.base, 'head'],
        [r.target, 'bad'],
      ]);
    case 'rolling':
    case 'paused':
      return new Map([
        [r.target, `head: ${r.state === 'paused' ? 'paused' : 'rolling out'}`],
        [r.base, 'head: base'],
      ]);
  }
}

export function noteFrom(snap: RepoSnapshot | undefined): CommitNote {
  if (!snap) return () => html``;
  const subjects = new Map(snap.commits.map((c) => [c.commit, c.subject]));
  const marks = marksOf(snap);
  return (commit) => {
    const mark = marks.get(commit);
    const head =
      mark &&
      html`<span
        class="head-mark"
        title="what the head of ${snap.ref} says the fleet should run"
        data-testid="head-mark"
        >${mark}</span
      >`;
    const subject = subjects.get(commit);
    return html`${head}${subject && html` <span class="subject">${subject}</span>`}`;
  };
}
