// Where the fleet repo's branch points, asked the light way: one ls-refs request over node:http
// for a git server, the ref files themselves for a local repository. The agent's resident part
// polls with this; fetching and reading commits (./fleet-source.ts, isomorphic-git) is the
// worker's, run only when the answer means there is work.

import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { durationMs, parseSize } from '../base/duration.js';
import { isUrl } from '../base/url.js';
import { fullRef, RemoteRef, refuseCredentialsInUrl } from '../sync/remote-ref.js';
import type { AgentConfig } from './config.js';

export interface FleetHead {
  /** The commit the branch points at now. */
  head(): Promise<string>;
  /** Files whose change means the branch may have moved (local repos only). */
  readonly watchPaths: string[];
  readonly description: string;
}

/** The git directory of a local fleet repo (a work tree's .git or a bare repository); refused otherwise. */
export function localGitdir(url: string): string {
  const root = resolve(url);
  if (!existsSync(root) || !statSync(root).isDirectory())
    throw new Error(`repo.url ${url} is neither an http(s) URL nor a directory`);
  const gitdir = existsSync(join(root, '.git'))
    ? join(root, '.git')
    : existsSync(join(root, 'objects'))
      ? root
      : undefined;
  if (!gitdir)
    throw new Error(
      `repo.url ${url} is a directory but not a git repository; the agent applies commits, so commit the ` +
        `fleet repo there (git init && git commit)`,
    );
  return gitdir;
}

export const watchPathsOf = (gitdir: string): string[] => [
  join(gitdir, 'HEAD'),
  join(gitdir, 'refs'),
  join(gitdir, 'packed-refs'),
];

/** A branch's commit read from the ref files; undefined when that takes more (a symbolic or abbreviated ref). */
async function refFile(gitdir: string, ref: string): Promise<string | undefined> {
  const full = fullRef(ref);
  const loose = await readFile(join(gitdir, full), 'utf8').catch(() => undefined);
  if (loose !== undefined) return /^[0-9a-f]{40,64}$/.exec(loose.trim())?.[0];
  const packed = await readFile(join(gitdir, 'packed-refs'), 'utf8').catch(() => '');
  for (const line of packed.split('\n')) {
    const [oid, name] = line.split(' ');
    if (name === full && oid && /^[0-9a-f]{40,64}$/.test(oid)) return oid;
  }
  return undefined;
}

export function fleetHead(cfg: AgentConfig): FleetHead {
  const r = cfg.repo;
  if (isUrl(r.url)) {
    refuseCredentialsInUrl(r.url);
    const timeoutMs = durationMs(r.timeout, 'repo.timeout');
    const remote = new RemoteRef({
      url: r.url,
      ref: fullRef(r.ref),
      ...(r.tokenFile
        ? { auth: { kind: 'token' as const, file: r.tokenFile } }
        : r.basicAuthFile
          ? { auth: { kind: 'basic' as const, file: r.basicAuthFile } }
          : {}),
      timeoutMs,
      idleTimeoutMs: Math.min(timeoutMs, 20_000),
      attempts: 3,
      backoffMs: 1000,
      ...(r.allowPlainHttpAuth ? { allowPlainHttpAuth: true } : {}),
      maxResponseBytes: parseSize(r.maxFetchSize, 'repo.maxFetchSize'),
      sleep: (ms) => new Promise((res) => setTimeout(res, ms)),
    });
    return {
      head: async () => (await remote.head()).commit,
      watchPaths: [],
      description: `${r.url.replace(/\/\/[^@/]*@/, '//')} ${fullRef(r.ref)}`,
    };
  }
  const gitdir = localGitdir(r.url);
  return {
    head: async () =>
      (await refFile(gitdir, r.ref)) ??
      // What the ref files do not answer (a tag, a commit id, HEAD) is git's own resolution's.
      (await import('../sync/revision.js')).resolveRevision(gitdir, r.ref),
    watchPaths: watchPathsOf(gitdir),
    description: `${resolve(r.url)} ${r.ref}`,
  };
}
