// `rollgate history` and `sync` meet verdicts this rollgate does not know (a state file or an
// agent of a newer rollgate): said as they are, never as "undefined", and never called a success.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { statePath } from '../../src/base/state-dir.js';
import { runHistory } from '../../src/cli/status-command.js';
import { printVerdict } from '../../src/cli/sync-command.js';
import { EXIT_ERROR, EXIT_OK, type Io } from '../../src/cli/commands.js';
import { emptyState } from '../../src/model/index.js';
import type { Verdict } from '../../src/lifecycle/index.js';
import { tempDir } from '../helpers/fixtures.js';

function captured(): Io & { text: () => string } {
  let out = '';
  return { out: (s) => (out += s), err: (s) => (out += s), colour: false, text: () => out };
}

test('history shows a verdict it does not know with a ? mark, next to those it knows', async () => {
  const dir = tempDir('rollgate-history-');
  const history = [
    { at: '2026-11-30T12:00:00.000Z', event: 'applied', commit: 'a'.repeat(40) },
    { at: '2026-11-30T12:01:00.000Z', event: 'quarantined', commit: 'b'.repeat(40) },
  ];
  writeFileSync(statePath(dir, 'state'), JSON.stringify({ ...emptyState(), history }));
  const io = captured();
  assert.equal(await runHistory({ stateDir: dir, output: 'human', limit: '10' }, io), EXIT_OK);
  assert.equal(
    io.text(),
    `? 2026-11-30T12:01:00.000Z  quarantined  ${'b'.repeat(12)}\n` +
      `✓ 2026-11-30T12:00:00.000Z  applied  ${'a'.repeat(12)}\n`,
  );
});

test('sync prints a verdict it does not know as it is, and exits with an error', () => {
  const io = captured();
  const v = { reason: 'quarantined', commit: 'b'.repeat(40) } as unknown as Verdict;
  assert.equal(printVerdict(v, 'human', io), EXIT_ERROR);
  assert.equal(io.text(), `quarantined (a verdict this rollgate does not know): commit ${'b'.repeat(12)}\n`);
});
