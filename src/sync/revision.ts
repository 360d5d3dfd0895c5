// Revisions as people type them: a branch, tag, full or short commit id, HEAD, with ~N and ^.

import * as fs from 'node:fs';
import git from 'isomorphic-git';
import { shortCommit } from '../base/short-commit.js';

export async function resolveRevision(gitdir: string, rev: string): Promise<string> {
  const m = /^(.*?)((?:~[0-9]*|\^1?)*)$/.exec(rev);
  const base = m?.[1] || 'HEAD';
  const suffix = m?.[2] ?? '';
  let oid: string;
  if (/^[0-9a-f]{4,39}$/.test(base)) oid = await git.expandOid({ fs, gitdir, oid: base });
  else {
    const candidates = [
      base,
      `refs/heads/${base}`,
      `refs/tags/${base}`,
      `refs/remotes/origin/${base}`,
      `refs/rollgate/${base}`,
    ];
    let found: string | undefined;
    for (const ref of candidates) {
      found = await git.resolveRef({ fs, gitdir, ref }).catch(() => undefined);
      if (found) break;
    }
    if (!found) throw new Error(`unknown revision "${base}" in ${gitdir}`);
    oid = found;
    // An annotated tag points at a tag object; we want its commit.
    const obj = await git.readObject({ fs, gitdir, oid });
    if (obj.type === 'tag') oid = (await git.readTag({ fs, gitdir, oid })).tag.object;
  }
  for (const step of suffix.match(/~[0-9]*|\^1?/g) ?? []) {
    const n = step.startsWith('~') ? Number(step.slice(1) || '1') : 1;
    for (let i = 0; i < n; i++) {
      const { commit } = await git.readCommit({ fs, gitdir, oid });
      const parent = commit.parent[0];
      if (!parent)
        throw new Error(
          `revision "${rev}": commit ${shortCommit(oid)} has no ` +
            `parent${commit.parent.length === 0 ? ' (or the clone is shallow)' : ''}`,
        );
      oid = parent;
    }
  }
  return oid;
}
