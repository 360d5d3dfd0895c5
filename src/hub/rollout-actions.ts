// An admin's pause, resume, promote and abort from the hub's rollout page: each one step written as
// the CLI writes it — src/promoter's runStep with the operator or promote decider, signed with the
// promoter's key, pushed only if the branch did not move — naming the admin's token and the reason.
// The page's forms carry a token bound to the session (csrfToken) and the hub checks it and the
// request's Origin and Sec-Fetch-Site (./session.ts), on top of the session cookie's SameSite=Strict.

import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { openPromoterRepo, operatorDecider, promoteDecider, runStep, type StepResult } from '../promoter/index.js';
import type { Sql } from './db.js';
import { HttpError } from './http.js';
import type { PromoterSettings } from './promoter-loop.js';
import { rolloutEvidence } from './rollout-evidence.js';
import { checkSameOrigin, sameValue } from './session.js';

export const ROLLOUT_ACTIONS = ['pause', 'resume', 'promote', 'abort'] as const;
export type RolloutAction = (typeof ROLLOUT_ACTIONS)[number];

/** The most a reason may be (the step's `why` keeps 2000 characters). */
const MAX_REASON = 2000;

/** The form token of a session: derived from its token, so it needs no state and dies with the token. */
export function csrfToken(sessionToken: string): string {
  return createHash('sha256').update(`rollgate-hub-form\0${sessionToken}`).digest('base64url');
}

/** Refuses a form post whose token is not the session's, or that comes from another origin. */
export function checkForm(req: IncomingMessage, sessionToken: string, form: URLSearchParams): void {
  checkSameOrigin(req);
  if (!sessionToken || !sameValue(form.get('csrf') ?? '', csrfToken(sessionToken)))
    throw new HttpError(403, 'the form is not one this hub gave this session (reload the page and try again)');
}

/** The reason a form gives, or a 400 that says what is missing. */
export function reasonOf(form: URLSearchParams): string {
  const why = (form.get('why') ?? '').trim();
  if (!why) throw new HttpError(400, 'give a reason: it is recorded in the signed commit, with who acted');
  if (why.length > MAX_REASON) throw new HttpError(400, `the reason is over ${MAX_REASON} characters`);
  // The form's field is one line. A line break would let the reason write lines of the signed
  // commit's message that look like the hub's own (`abort by … (hub admin)`) or like a trailer.
  if (/[\n\u0085\u2028\u2029]/.test(why)) throw new HttpError(400, 'the reason is one line: it holds a line break');
  // eslint-disable-next-line no-control-regex -- a reason is one line of text
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(why)) throw new HttpError(400, 'the reason holds control characters');
  return why;
}

export class RolloutActions {
  constructor(private readonly s: PromoterSettings) {}

  /** One signed step on the branch; `expectId` guards against acting on a rollout other than the page's. */
  async act(db: Sql, action: RolloutAction, expectId: string, by: string, why: string): Promise<StepResult> {
    const cache = mkdtempSync(join(tmpdir(), 'rollgate-hub-action-'));
    const repo = openPromoterRepo({ ...this.s.repo, cacheDir: cache, depth: 50 });
    try {
      return await runStep({
        repo,
        signer: this.s.signer,
        decide: async (view) => {
          if (view.state?.state.id !== expectId)
            throw new HttpError(
              409,
              `the rollout at the branch's head is ${view.state?.state.id ?? 'none'}, not ${expectId}: ` +
                'nothing was written',
            );
          return action === 'promote'
            ? promoteDecider(repo, {
                by,
                evidence: (_id, target) => rolloutEvidence(db, target),
                force: { why },
              })(view)
            : operatorDecider(repo, action, { by, why })(view);
        },
      });
    } finally {
      repo.close();
      rmSync(cache, { recursive: true, force: true });
    }
  }
}
