// Temporary directories a test file makes, removed when the file's tests end.

import { after } from 'node:test';
import { cleanup, tempDir } from './fixtures.js';

/** A maker of temporary directories named `prefix…`; every one it made is removed after the file's tests. */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  after(() => dirs.forEach(cleanup));
  return () => {
    const d = tempDir(prefix);
    dirs.push(d);
    return d;
  };
}
