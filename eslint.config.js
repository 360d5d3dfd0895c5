// Lint rules of the project: typescript-eslint's recommended set, Node's globals for the
// scripts, lines of at most 120 characters, strings included, files of at most 450 lines (every
// line counts: a file that long holds more than one thing; there are no standing exceptions), and
// — with the types — a switch over a union that leaves a member out.
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
  {
    // A switch over a union (a step's kind, a verdict's reason) must name every member: a member
    // added later is a lint error where it is not handled, not a `default` that hides it.
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
    },
  },
);
