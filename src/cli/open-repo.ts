// Turns what a person types (a URL or a path, a revision or none) into a RepoSource: git
// objects of a commit, or the working tree for a dry run before committing.

import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DirectorySource, GitObjectSource, type RepoSource } from '../manifest/index.js';
import { GitSync, isUrl, resolveRevision, type GitAuth } from '../sync/index.js';

export interface RepoSpec {
  repo: string;
  auth?: GitAuth;
  /** URL repos: PEM certificates of CAs trusted besides the defaults (a git server with a private CA). */
  caFile?: string;
  /** Where a URL is fetched to; a temporary directory (removed on close) when not given. */
  cacheDir?: string;
  depth: number;
}

export interface OpenedRepo {
  /** The working tree (no revision, local path) or a commit. */
  source(rev: string | undefined): Promise<RepoSource>;
  close(): void;
}

function branchOf(rev: string): string {
  return rev.replace(/(~[0-9]*|\^1?)+$/, '');
}

export async function openRepo(spec: RepoSpec): Promise<OpenedRepo> {
  if (isUrl(spec.repo)) {
    const temp = spec.cacheDir ? undefined : mkdtempSync(join(tmpdir(), 'rollgate-diff-'));
    const gitdir = spec.cacheDir ?? temp!;
    const fetched = new Map<string, string>();
    return {
      async source(rev) {
        const r = rev ?? 'main';
        const branch = branchOf(r);
        if (/^[0-9a-f]{7,40}$/.test(branch)) {
          if (fetched.size === 0)
            throw new Error(
              `with a URL, --ref names a branch or tag (optionally with ~N); "${branch}" looks like a commit ` +
                `id: give the branch first, e.g. --ref main, then --against commit:${branch}`,
            );
        } else if (!fetched.has(branch)) {
          const ref = branch.startsWith('refs/') ? branch : `refs/heads/${branch}`;
          const sync = new GitSync({
            url: spec.repo,
            ref,
            gitdir,
            depth: spec.depth,
            ...(spec.auth ? { auth: spec.auth } : {}),
            ...(spec.caFile !== undefined ? { caFile: spec.caFile } : {}),
          });
          const { commit } = await sync.poll();
          fetched.set(branch, commit);
          await sync.pin(`diff/${branch}`, commit);
        }
        const oid = await resolveRevision(
          gitdir,
          /^[0-9a-f]{7,40}$/.test(branch) ? r : `diff/${branch}${r.slice(branch.length)}`,
        );
        return new GitObjectSource(gitdir, oid);
      },
      close() {
        if (temp) rmSync(temp, { recursive: true, force: true });
      },
    };
  }
  const root = resolve(spec.repo);
  if (!existsSync(root) || !statSync(root).isDirectory())
    throw new Error(`${spec.repo} is not a directory or an http(s) URL`);
  const gitdir = existsSync(join(root, '.git'))
    ? join(root, '.git')
    : existsSync(join(root, 'HEAD')) && existsSync(join(root, 'objects'))
      ? root
      : undefined;
  return {
    async source(rev) {
      if (rev === undefined) {
        if (gitdir === root) throw new Error(`${root} is a bare repository: give a revision with --ref`);
        return new DirectorySource(root);
      }
      if (!gitdir)
        throw new Error(
          `${root} is not a git repository, so --ref ${rev} cannot be read; leave out --ref to use the files as ` +
            `they are`,
        );
      return new GitObjectSource(gitdir, await resolveRevision(gitdir, rev));
    },
    close() {},
  };
}
