// What the benchmarks share: running a peer's command, and the median of a run's rounds.

import { spawn } from 'node:child_process';

/** Runs a command to completion; rejects with its stderr when it fails. Asynchronous, so servers in this process keep serving. */
export function run(cmd: string, args: string[], env: Record<string, string>, cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`))));
  });
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
