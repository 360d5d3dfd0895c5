// The trust gate (safety rule 9): the branch's head must be signed by a trusted key (or carry a
// tag signed by one, in tag mode) before anything is read from it — its manifests, and its
// rollgate-rollout.yaml, which says what the whole fleet runs. No keys configured: every head passes.
//
// A head signed by a promoter key (trust.promoterKeys) and no release key is a rollout step at most:
// it passes only when every rule of ./promoter-rules.ts holds, judged on what the commit is made of.

import { FleetRepoError } from '../../manifest/index.js';
import { TrustError } from '../../trust/index.js';
import type { Gate, GateAnswer, GatePorts } from './gate.js';
import { promoterRuleBreaches, type PromoterCommit } from './promoter-rules.js';
import { shortCommit } from '../../base/short-commit.js';

/** Why a commit is not signed by a release key; undefined when it is. */
async function releaseProblem(p: TrustPorts, commit: string): Promise<string | undefined> {
  try {
    await p.verify(commit);
    return undefined;
  } catch (err) {
    if (!(err instanceof TrustError)) throw err;
    const promoter = await p.promoterSigner?.(commit);
    return promoter ? `it is signed by the promoter key of ${promoter} alone` : err.message;
  }
}

/** The facts the promoter rules judge, read through the ports. */
async function factsOf(head: string, p: TrustPorts): Promise<PromoterCommit> {
  const { parents, changed } = await p.commitShape!(head);
  let state;
  try {
    state = await p.rolloutState(head);
  } catch (err) {
    // A file that does not hold is the rollout gate's to refuse (invalid), with its problems.
    if (!(err instanceof FleetRepoError)) throw err;
    return { parents, changed, hasRolloutFile: true, named: [] };
  }
  const named: PromoterCommit['named'] = [];
  for (const [role, commit] of [
    ['base', state?.state.base],
    ['target', state?.state.target],
  ] as const) {
    // A commit outside the branch is the rollout gate's to refuse; one in it is fetched by now.
    if (!commit || !(await p.descends(head, commit))) continue;
    const untrusted = await releaseProblem(p, commit);
    named.push({ role, commit, ...(untrusted !== undefined ? { untrusted } : {}) });
  }
  return { parents, changed, hasRolloutFile: state !== undefined, named };
}

async function asRolloutStep(head: string, err: TrustError, p: TrustPorts): Promise<GateAnswer> {
  const refuse = (reason: string): GateAnswer => ({ kind: 'refuse', commit: head, bad: 'untrusted', reason });
  const promoter = p.commitShape ? await p.promoterSigner?.(head) : undefined;
  if (!promoter) return refuse(err.message);
  const breaches = promoterRuleBreaches(await factsOf(head, p));
  if (breaches.length)
    return refuse(
      `commit ${shortCommit(head)} is signed by the promoter key of ${promoter} and no release key; a promoter key ` +
        `signs a rollout step and nothing else, and this one breaks ` +
        breaches.map((b) => `${b.rule}: ${b.why}`).join('; '),
    );
  const note = `commit ${shortCommit(head)} is a rollout step signed by the promoter key of ${promoter}`;
  return { kind: 'admit', note };
}

/** What judging a head's signature reads: `rollgate validate` gives these too, to see what gateways will accept. */
export type TrustPorts = Pick<GatePorts, 'verify' | 'promoterSigner' | 'commitShape' | 'descends' | 'rolloutState'>;

/** Whether `head` is signed as this gateway requires: by a release key, or as a rollout step by a promoter key. */
export async function judgeTrust(head: string, p: TrustPorts): Promise<GateAnswer> {
  try {
    const signer = await p.verify(head);
    return { kind: 'admit', ...(signer ? { note: `commit ${shortCommit(head)} is signed by ${signer}` } : {}) };
  } catch (err) {
    if (!(err instanceof TrustError)) throw err;
    if (err.kind === 'untrusted') return asRolloutStep(head, err, p);
    return { kind: 'refuse', commit: head, bad: err.kind, reason: err.message };
  }
}

export const trustGate: Gate = {
  name: 'trust',
  phase: 'choose',
  why: 'nothing is read from a commit before its signature is known to be a trusted one',
  check: (s, p) => judgeTrust(s.head, p),
};
