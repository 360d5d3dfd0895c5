// Lint rules of the project: typescript-eslint's recommended set, Node's globals for the
// scripts, lines of at most 120 characters, strings included, and files of at most 450 lines
// (every line counts: a file that long holds more than one thing; there are no standing exceptions).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/fixtures/**', 'fleet-repo-example/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      'max-len': ['error', { code: 120 }],
    },
  },
  {
    files: ['src/**', 'bench/**', 'scripts/**', 'test/**'],
    rules: {
      'max-lines': ['error', { max: 450, skipBlankLines: false, skipComments: false }],
    },
  },
  // TEMPORARY — removed when branch "steps" lands (it splits the applier, the plan runner and the planner).
  {
    files: [
      'src/apply/**',
      'src/plan/**',
      'src/model/plan.ts',
      'test/plan/plan.test.ts',
      'test/apply/interfaces.test.ts',
      'test/apply/run-plan.test.ts',
      'test/apply/docker.test.ts',
    ],
    rules: { 'max-lines': 'off' },
  },
  // TEMPORARY — removed when branch "lazy" lands (it reshapes the CLI's entry point).
  { files: ['src/cli/**'], rules: { 'max-lines': 'off' } },
);
