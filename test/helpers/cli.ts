// The built CLI as a separate process, run without blocking this one (which may be serving the
// git repo the CLI talks to).

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from './fixtures.js';

export const CLI = join(projectRoot, 'dist/src/cli/main.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

export function rollgateWith(env: Record<string, string>, ...args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, NO_COLOR: '1', ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, out, err }));
  });
}

export function rollgate(...args: string[]): Promise<CliResult> {
  return rollgateWith({}, ...args);
}
