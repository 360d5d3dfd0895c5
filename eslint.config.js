// Lint rules of the project: typescript-eslint's recommended set, Node's globals for the
// scripts, and lines of at most 120 characters, strings included.
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
);
