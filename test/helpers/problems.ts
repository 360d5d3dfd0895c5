// Asserting on a fleet repo's problems: one at a file (and line) whose message matches, or a failure
// that lists every problem there was.

import assert from 'node:assert/strict';

export function hasProblem(
  problems: { file: string; line?: number; column?: number; message: string }[],
  file: string,
  line: number | undefined,
  re: RegExp,
): void {
  const hit = problems.find((p) => p.file === file && (line === undefined || p.line === line) && re.test(p.message));
  assert.ok(
    hit,
    `expected a problem in ${file}${line ? ':' + line : ''} matching ${re}; ` +
      `got:\n${problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`).join('\n')}`,
  );
}
