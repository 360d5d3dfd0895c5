// Runs scripts/demo.mjs (what `npm run demo` runs after the build) as a new user would.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from './fixtures.js';

export function runDemo(env: Record<string, string>, ms = 240_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(projectRoot, 'scripts/demo.mjs')], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (out += c.toString()));
    // Bounded: a demo that hangs fails the test with what it printed.
    const timer = setTimeout(() => p.kill('SIGTERM'), ms);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}
