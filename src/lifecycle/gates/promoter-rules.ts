// What a promoter key may sign (trust.promoterKeys): a step of a rollout, nothing else. A branch head
// signed by a promoter key alone — no release key (trust.keys) — is accepted only when every rule of
// this table holds; any rule broken, or any fact that cannot be read, refuses it (deny by default).
// The machine that promotes holds this key, so a stolen one can pause, resume, abort or promote a
// rollout of commits that release keys signed — never put a commit of its own on a gateway.

import { ROLLOUT_FILE } from '../../rollout/index.js';

/** The facts about a head signed by a promoter key that the rules judge. */
export interface PromoterCommit {
  parents: string[];
  /** The paths it changes against its first parent. */
  changed: string[];
  /** rollgate-rollout.yaml is at the head. */
  hasRolloutFile: boolean;
  /** The commits the file names; `untrusted` says why one is not signed by a release key. */
  named: { role: 'base' | 'target'; commit: string; untrusted?: string }[];
}

export interface PromoterRule {
  name: string;
  /** What the rule asks of the commit, and why, for the README and the refusal. */
  requires: string;
  /** Why the commit breaks it; undefined when it holds. */
  broken(c: PromoterCommit): string | undefined;
}

const short = (c: string) => c.slice(0, 12);

export const PROMOTER_RULES: readonly PromoterRule[] = [
  {
    name: 'one-parent',
    requires: 'exactly one parent: a merge brings in a whole other history, which no release key signed',
    broken: (c) =>
      c.parents.length === 1
        ? undefined
        : c.parents.length === 0
          ? 'it has no parent (a root commit brings in every file)'
          : `it is a merge of ${c.parents.length} parents`,
  },
  {
    name: 'rollout-file-only',
    requires: `it changes ${ROLLOUT_FILE} against its parent, and no other file: manifests are a release key's`,
    broken: (c) => {
      const others = c.changed.filter((p) => p !== ROLLOUT_FILE);
      if (others.length)
        return (
          `it also changes ${others.slice(0, 5).join(', ')}` +
          (others.length > 5 ? ` and ${others.length - 5} more` : '')
        );
      return c.changed.length === 0 ? `it does not change ${ROLLOUT_FILE}` : undefined;
    },
  },
  {
    name: 'rollout-file-kept',
    requires: `${ROLLOUT_FILE} is at the head: removing it would send every gateway to the head itself`,
    broken: (c) => (c.hasRolloutFile ? undefined : `it removes ${ROLLOUT_FILE}`),
  },
  {
    name: 'release-signed-commits',
    requires: 'the base and the target the file names are signed by a release key, never by a promoter key alone',
    broken: (c) => {
      const not = c.named.filter((n) => n.untrusted !== undefined);
      return not.length
        ? not.map((n) => `its ${n.role} ${short(n.commit)} is not signed by a release key: ${n.untrusted}`).join('; ')
        : undefined;
    },
  },
];

/** Every rule the commit breaks, in the table's order; empty when a promoter key may sign it. */
export function promoterRuleBreaches(c: PromoterCommit): { rule: string; why: string }[] {
  const out: { rule: string; why: string }[] = [];
  for (const r of PROMOTER_RULES) {
    const why = r.broken(c);
    if (why !== undefined) out.push({ rule: r.name, why });
  }
  return out;
}
