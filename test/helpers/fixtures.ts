// Real git repositories for tests, made with the git CLI.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export function tempDir(prefix = 'rollgate-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function run(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com',
    },
  })
    .toString()
    .trim();
}

/** The example fleet repo's story as a bare repo at <root>/<name>.git; returns its commits, oldest first. */
export function exampleBareRepo(root: string, name = 'fleet'): { gitdir: string; commits: string[] } {
  const gitdir = join(root, `${name}.git`);
  execFileSync('node', [join(projectRoot, 'scripts/make-example-repo.mjs'), gitdir, '--bare'], { stdio: 'ignore' });
  const commits = run('git', ['--git-dir', gitdir, 'rev-list', '--reverse', 'main']).split('\n');
  return { gitdir, commits };
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
