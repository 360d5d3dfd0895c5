// The descent gate (safety rule 9, no downgrades): the branch's head must descend from the commit
// the gateway runs, or the branch was force-pushed or moved back. It is the branch that may not go
// back: a rollout's base, which may be older than what runs, is named by a head that passed here
// and is checked by the rollout gate to be in that head's history.

import { rewriteMessage } from '../../trust/index.js';
import { ADMIT, type Gate } from './gate.js';

export const descentGate: Gate = {
  name: 'descent',
  phase: 'choose',
  why: 'a head that rewrites the branch is refused before the rollout state it carries is believed',
  async check(s, p) {
    if (!s.applied || s.applied === s.head || p.allowRewrite) return ADMIT;
    if (await p.descends(s.head, s.applied)) return ADMIT;
    return { kind: 'refuse', commit: s.head, bad: 'rewrite', reason: rewriteMessage(s.head, s.applied) };
  },
};
