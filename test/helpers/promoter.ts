// The promoter as the fleet tests and the rollout benchmark run it: `rollgate rollout
// start|promote|pause|resume|abort|status` as a process (exit 0 a step written, complete or nothing to
// do; 2 the wave waits; 3 paused or aborted; 1 an error). The one place that says which program it is.

import { spawn } from 'node:child_process';
import { CLI } from './cli.js';

/** The program and its leading arguments; a command and its options follow. */
export const PROMOTER: readonly string[] = [CLI, 'rollout'];

/** The environment variable and value that make the promoter kill itself after deciding, before its push. */
export const CRASH_BEFORE_PUSH = { ROLLGATE_CRASH_AT: 'promote-push' };

export interface PromoterRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

export function runPromoter(command: string, args: string[], env: Record<string, string> = {}): Promise<PromoterRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...PROMOTER, command, ...args], {
      env: { ...process.env, NO_COLOR: '1', ...env },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, out, err }));
  });
}
