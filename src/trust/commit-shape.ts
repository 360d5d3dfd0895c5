// What a commit is made of, for the promoter key's rule (src/lifecycle/gates/promoter-rules.ts):
// its parents and every path it changes against its first parent, read from the object store; and
// who signed the commit itself with a given set of keys. A narrower key is judged on these facts.

import * as fs from 'node:fs';
import git, { TREE } from 'isomorphic-git';
import type { TrustedKeys } from './keys.js';
import { checkSignature, splitSigned } from './verify.js';

export interface CommitShape {
  parents: string[];
  /** Every path (files, at any depth) added, removed or changed against the first parent; all of them for a root. */
  changed: string[];
}

/** The parents of a commit and the paths it changes against its first parent. */
export async function commitShape(gitdir: string, commit: string): Promise<CommitShape> {
  const { commit: c } = await git.readCommit({ fs, gitdir, oid: commit });
  const trees = [TREE({ ref: commit }), ...(c.parent[0] ? [TREE({ ref: c.parent[0] })] : [])];
  const changed: string[] = [];
  await git.walk({
    fs,
    gitdir,
    trees,
    map: async (path, [mine, theirs]) => {
      if (path === '.') return true;
      const [a, b] = [await mine?.oid(), await theirs?.oid()];
      // A mode is a change too: a file made executable is a new program.
      const [ma, mb] = [await mine?.mode(), await theirs?.mode()];
      // A subtree whose id is the same holds the same files: nothing under it changed.
      if (a === b && ma === mb) return null;
      const [ta, tb] = [await mine?.type(), await theirs?.type()];
      // Files (and links, submodules) are listed; a tree is walked into, its files listed.
      if ((ta !== undefined && ta !== 'tree') || (tb !== undefined && tb !== 'tree')) changed.push(path);
      return true;
    },
  });
  return { parents: c.parent, changed: changed.sort() };
}

/** Who signed the commit itself (its own signature, OpenPGP or SSH) with one of `keys`; undefined when none did. */
export async function signedBy(gitdir: string, commit: string, keys: TrustedKeys): Promise<string | undefined> {
  const o = await git.readObject({ fs, gitdir, oid: commit, format: 'content' });
  const { payload, signature } = splitSigned(Buffer.from(o.object as Uint8Array), 'commit');
  if (!signature) return undefined;
  const r = await checkSignature(payload, signature, keys);
  return r.ok ? r.signer : undefined;
}

/** The committer's date of a commit, in ms since the epoch: what a gateway's clock is checked against. */
export async function committedAt(gitdir: string, commit: string): Promise<number> {
  const { commit: c } = await git.readCommit({ fs, gitdir, oid: commit });
  return c.committer.timestamp * 1000;
}
