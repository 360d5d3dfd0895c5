// The trust gate (safety rule 9): the branch's head must be signed by a trusted key (or carry a
// tag signed by one, in tag mode) before anything is read from it — its manifests, and its
// rollgate-rollout.yaml, which says what the whole fleet runs. No keys configured: every head passes.

import { TrustError } from '../../trust/index.js';
import type { Gate } from './gate.js';
import { shortCommit } from '../../base/short-commit.js';

export const trustGate: Gate = {
  name: 'trust',
  phase: 'choose',
  why: 'nothing is read from a commit before its signature is known to be a trusted one',
  async check(s, p) {
    try {
      const signer = await p.verify(s.head);
      return { kind: 'admit', ...(signer ? { note: `commit ${shortCommit(s.head)} is signed by ${signer}` } : {}) };
    } catch (err) {
      if (err instanceof TrustError) return { kind: 'refuse', commit: s.head, bad: err.kind, reason: err.message };
      throw err;
    }
  },
};
