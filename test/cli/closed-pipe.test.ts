// `rollgate status | head`: a reader that goes away before the command has printed everything.
// Each command runs as a process whose stdout is a real pipe whose reading end is closed before
// the command writes, so every write it makes meets EPIPE; it must end as it would have ended
// (its own exit code), saying nothing on stderr, least of all a stack trace.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI } from '../helpers/cli.js';
import { projectRoot, tempDir } from '../helpers/fixtures.js';

function withClosedStdout(args: string[]): Promise<{ code: number | null; signal: string | null; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, err }));
  });
}

test('a closed stdout ends every command quietly, with the exit code it would have had', async () => {
  const stateDir = tempDir();
  const example = join(projectRoot, 'fleet-repo-example');
  const cases: { args: string[]; code: number }[] = [
    { args: ['status', '--state-dir', stateDir], code: 0 },
    { args: ['status', '--state-dir', stateDir, '--output', 'json'], code: 0 },
    { args: ['history', '--state-dir', stateDir], code: 0 },
    // 2: the plan has changes, as without the pipe.
    { args: ['diff', '--repo', example, '--id', 'gw-0042', '--label', 'role=gateway'], code: 2 },
    { args: ['diff', '--repo', example, '--id', 'gw-0042', '--label', 'role=gateway', '--output', 'json'], code: 2 },
    { args: ['validate', '--repo', example], code: 0 },
    { args: ['agent', '--print-config', '--config', '/dev/null', '--repo', example, '--id', 'gw-1'], code: 0 },
    { args: ['--version'], code: 0 },
    { args: ['--help'], code: 0 },
    { args: ['hub', '--help'], code: 0 },
  ];
  for (const c of cases) {
    const r = await withClosedStdout(c.args);
    const what = `rollgate ${c.args.join(' ')} | (closed): ${r.err}`;
    assert.equal(r.signal, null, what);
    assert.equal(r.code, c.code, what);
    assert.equal(r.err, '', what);
  }
});
