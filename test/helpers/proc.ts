// Processes as /proc shows them, for the tests that check nothing is left running.

import { readFileSync } from 'node:fs';

/**
 * Whether a process runs: it has a /proc entry and is no zombie. A process may end between a look
 * at /proc and the read of its stat, so a missing file is an ended process, never an error.
 */
export function running(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // The name in parentheses may hold spaces and parentheses: the state follows the last ") ".
  return stat.slice(stat.lastIndexOf(') ') + 2)[0] !== 'Z';
}
