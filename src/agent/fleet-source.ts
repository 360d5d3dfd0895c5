// Where the agent reads the fleet repo: a git server (smart HTTP, polled with one ls-refs
// request; fetched into <stateDir>/repo.git only when the branch moved) or a local git
// repository (read in place, watched for its branch to move).

import { resolve } from 'node:path';
import { statePath } from '../base/state-dir.js';
import { localGitdir, watchPathsOf } from './fleet-head.js';
import { GitSync, fullRef, isUrl, resolveRevision, type GitAuth } from '../sync/index.js';

export interface FleetSource {
  /** The object store commits are read from. */
  readonly gitdir: string;
  /** Where the branch points now; a commit `skip` names is not fetched. */
  poll(skip?: (commit: string) => boolean): Promise<{ commit: string; requests: number }>;
  /** Keeps a commit's objects (the applied and last good commits) reachable. */
  pin(name: string, commit: string): Promise<void>;
  /** Fetches more of the branch's history (URL sources; a local repository has all of it). */
  deepen?(depth: number): Promise<void>;
  /** The annotated tags that point at a commit (URL sources; a local repository's tags are read in place). */
  tagsAt?(commit: string): Promise<{ name: string; oid: string }[]>;
  /** Files whose change means the branch may have moved (local repos only). */
  readonly watchPaths: string[];
  readonly description: string;
}

export function fleetSource(o: {
  url: string;
  ref: string;
  stateDir: string;
  auth?: GitAuth;
  timeoutMs: number;
  allowPlainHttpAuth?: boolean;
  maxFetchBytes?: number;
  /** PEM certificates of CAs trusted for an https git server besides the defaults (repo.caFile). */
  caFile?: string;
}): FleetSource {
  if (o.caFile !== undefined && !o.url.startsWith('https://'))
    throw new Error(
      'repo.caFile (--repo-ca-file) is for a git server at an https URL; repo.url is ' +
        o.url.replace(/\/\/[^@/]*@/, '//'),
    );
  if (isUrl(o.url)) {
    const sync = new GitSync({
      url: o.url,
      ref: o.ref,
      gitdir: statePath(o.stateDir, 'repo'),
      ...(o.allowPlainHttpAuth ? { allowPlainHttpAuth: true } : {}),
      ...(o.maxFetchBytes ? { maxFetchBytes: o.maxFetchBytes } : {}),
      timeoutMs: o.timeoutMs,
      idleTimeoutMs: Math.min(o.timeoutMs, 20_000),
      depth: 1,
      ...(o.auth ? { auth: o.auth } : {}),
      ...(o.caFile !== undefined ? { caFile: o.caFile } : {}),
    });
    return {
      gitdir: sync.gitdir,
      poll: async (skip) => {
        const r = await sync.poll(skip);
        return { commit: r.commit, requests: r.requests };
      },
      pin: (name, commit) => sync.pin(name, commit),
      deepen: (depth) => sync.deepen(depth),
      tagsAt: (commit) => sync.tagsAt(commit),
      watchPaths: [],
      description: `${o.url.replace(/\/\/[^@/]*@/, '//')} ${fullRef(o.ref)}`,
    };
  }
  const gitdir = localGitdir(o.url);
  const ref = o.ref;
  return {
    gitdir,
    poll: async () => ({ commit: await resolveRevision(gitdir, ref), requests: 0 }),
    // A local repository belongs to its owner: rollgate writes nothing into it.
    pin: async () => {},
    watchPaths: watchPathsOf(gitdir),
    description: `${resolve(o.url)} ${ref}`,
  };
}
