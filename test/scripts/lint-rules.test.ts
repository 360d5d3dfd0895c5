// The README's promise about `npm run lint`: with the types, a switch over a union that leaves a
// member out (a `default` does not count) is an error — linted here with the project's own
// configuration, as text in place of a file of src/ (the file on disk is not touched).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ESLint } from 'eslint';
import { projectRoot } from '../helpers/fixtures.js';

const RULE = '@typescript-eslint/switch-exhaustiveness-check';

/** The messages of the exhaustiveness rule for `code` put in place of a file of src/plan. */
async function exhaustiveness(eslint: ESLint, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${projectRoot}/src/plan/errors.ts` });
  return (result?.messages ?? []).filter((m) => m.ruleId === RULE).map((m) => m.message);
}

const probe = (cases: string) => `import type { ComponentStepKind } from '../model/index.js';
export function f(k: ComponentStepKind): number {
  switch (k) {
${cases}
  }
}
`;

describe('lint rules', () => {
  test('a switch over a step kind must name every kind; a default does not stand in for them', async () => {
    const eslint = new ESLint({ cwd: projectRoot });
    const some = probe(`    case 'download':
      return 1;
    default:
      return 0;`);
    const [found, ...more] = await exhaustiveness(eslint, some);
    assert.equal(more.length, 0);
    assert.match(found ?? '', /Cases not matched: "cleanup" \| "commit" \| "install" \| "reboot"$/);
    const every = probe(`    case 'download':
    case 'install':
    case 'reboot':
    case 'commit':
    case 'cleanup':
      return 1;`);
    assert.deepEqual(await exhaustiveness(eslint, every), []);
  });
});
