// `rollgate forget <commit>`: an operator clears a bad-commit record on one gateway, with who,
// when and why in the history. Through the running agent (its control socket), which does it
// between reconciles so no decision in flight writes over it; or, with no agent running, in the
// state file directly under the agent's lock.

import type { Log } from '../base/log.js';
import { fields, shapeProblem, describeProblem } from '../base/shape.js';
import type { Verdict } from '../lifecycle/index.js';
// The pure module itself, not the lifecycle's index: the resident agent loads this file when asked to forget.
import { ForgetError, forgetBad, type ForgetRequest } from '../lifecycle/bad-commits.js';
import { ControlRequestError } from './control.js';
import { AgentLock, LockedError } from './lock.js';
import { StateStore } from './state.js';

const REQUEST_SHAPE = fields<ForgetRequest>({ commit: 'string', reason: 'string', by: 'string' });

/** A forget request from the control socket, checked; ControlRequestError when it is not one. */
export function forgetRequest(body: unknown): ForgetRequest {
  const wrong = shapeProblem(body, REQUEST_SHAPE);
  if (wrong) throw new ControlRequestError(`not a forget request: ${describeProblem(wrong)}`);
  return body as ForgetRequest;
}

/** Clears the record in `store` (the caller makes sure nothing else writes it meanwhile). */
export async function forgetIn(store: StateStore, req: ForgetRequest, log?: Log): Promise<Verdict> {
  let r: ReturnType<typeof forgetBad>;
  try {
    r = forgetBad(store.current, req, new Date().toISOString());
  } catch (err) {
    if (err instanceof ForgetError) throw new ControlRequestError(err.message);
    throw err;
  }
  await store.replace(r.state);
  const detail = r.state.history.at(-1)!.detail!;
  log?.warn({ verdict: 'forgotten', commit: r.forgotten.commit, by: req.by, reason: req.reason }, detail);
  return { reason: 'forgotten', commit: r.forgotten.commit, detail };
}

/** With no agent running: under the agent's lock, so an agent starting meanwhile waits its turn. */
export async function forgetOffline(stateDir: string, req: ForgetRequest): Promise<Verdict> {
  let lock;
  try {
    lock = await AgentLock.acquire(stateDir);
  } catch (err) {
    if (err instanceof LockedError)
      throw new Error(
        `${err.message}; it does not answer on its control socket, so the state is left alone: try again once it ` +
          'answers (rollgate status)',
      );
    throw err;
  }
  try {
    return await forgetIn(await StateStore.open(stateDir), req);
  } finally {
    await lock.release();
  }
}
