// `rollgate sync` (reconcile now, and the verdict) and `rollgate forget` (clear a bad record):
// both ask the running agent through its control socket; forget edits the state file when none runs.

import { userInfo } from 'node:os';
import { NoAgentError, callAgent } from '../agent/control.js';
import { forgetOffline } from '../agent/forget.js';
import type { Verdict } from '../lifecycle/index.js';
import { verdictFacts, type SyncExit } from '../model/index.js';
import { stateDirOf, type AgentCommandOptions } from './agent-state-dir.js';
import { c12 } from './format.js';
import { EXIT_ERROR, EXIT_OK, EXIT_ROLLBACK_INCOMPLETE, EXIT_ROLLED_BACK, type Io } from './io.js';

/** How `rollgate sync` exits after each kind of verdict (the verdict table says which kind). */
export const SYNC_EXIT_CODE: Readonly<Record<SyncExit, number>> = {
  ok: EXIT_OK,
  error: EXIT_ERROR,
  'rolled-back': EXIT_ROLLED_BACK,
  'rollback-incomplete': EXIT_ROLLBACK_INCOMPLETE,
};

/**
 * Prints a verdict as `rollgate sync` does and returns its exit code. A reason this rollgate does
 * not know (an agent newer than the CLI) is printed as it is and is no success.
 */
export function printVerdict(r: Verdict, output: 'human' | 'json', io: Io): number {
  const row = verdictFacts(r.reason);
  if (output === 'json') io.out(JSON.stringify(r, null, 2) + '\n');
  else {
    io.out(
      (row?.sync ?? `${String(r.reason)} (a verdict this rollgate does not know)`) +
        (r.commit ? `: commit ${c12(r.commit)}` : '') +
        (r.to ? `; the gateway runs the last good commit ${c12(r.to)}` : '') +
        '\n',
    );
    if (r.detail && r.reason !== 'unchanged') io.out(`  ${r.detail}\n`);
    if (r.steps?.length) io.out(`  steps: ${r.steps.join(', ')}\n`);
  }
  return row ? SYNC_EXIT_CODE[row.exit] : EXIT_ERROR;
}

export async function runSync(
  o: AgentCommandOptions & { stateDir?: string; output: 'human' | 'json'; timeout: string },
  io: Io,
): Promise<number> {
  const stateDir = await stateDirOf(o);
  const timeoutMs = Number(o.timeout) * 1000;
  const r = (await callAgent(
    stateDir,
    'POST',
    '/sync',
    Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 3_600_000,
  )) as Verdict;
  return printVerdict(r, o.output, io);
}

/** Who runs this command, for the history: the user, and who they were before sudo. */
function operator(): string {
  const me = (() => {
    try {
      return userInfo().username;
    } catch {
      return `uid ${process.getuid?.() ?? '?'}`;
    }
  })();
  const sudo = process.env['SUDO_USER'];
  return sudo && sudo !== me ? `${me} (sudo from ${sudo})` : me;
}

export async function runForget(
  commit: string,
  o: AgentCommandOptions & { stateDir?: string; output: 'human' | 'json'; reason: string },
  io: Io,
): Promise<number> {
  const stateDir = await stateDirOf(o);
  const req = { commit, reason: o.reason, by: operator() };
  let r: Verdict;
  let via: string;
  try {
    r = (await callAgent(stateDir, 'POST', '/forget', 60_000, req)) as Verdict;
    via = 'the running agent';
  } catch (err) {
    if (!(err instanceof NoAgentError)) throw err;
    r = await forgetOffline(stateDir, req);
    via = 'the state file (no agent is running)';
  }
  if (o.output === 'json') io.out(JSON.stringify(r, null, 2) + '\n');
  else
    io.out(
      `cleared the bad record of commit ${c12(r.commit)} through ${via}; recorded in the history:\n  ${r.detail}\n` +
        'If the branch still points at it, the next poll applies it again (rollgate sync: now).\n',
    );
  return EXIT_OK;
}
