// `rollgate hub --repo …`: what the hub reads of the fleet repo, from its flags (./args/hub-repo.ts),
// falling back to the promoter's repository, branch and credentials when the hub runs one.

import { durationMs } from '../base/duration.js';
import type { FleetRepoSpec } from '../hub/fleet-repo.js';
import type { PromoterSettings } from '../hub/index.js';
import { isUrl } from '../sync/index.js';

export interface RepoFlags {
  repo?: string;
  repoRef?: string;
  repoAuthTokenFile?: string;
  repoAuthBasicFile?: string;
  repoTrustedKeys?: string[];
  repoInterval?: string;
}

/** What the pages read, or undefined when neither --repo nor a promoter names a repository. */
export function repoSettings(f: RepoFlags, promoter: PromoterSettings | undefined): FleetRepoSpec | undefined {
  const repo = f.repo ?? promoter?.repo.repo;
  if (!repo) return undefined;
  const same = repo === promoter?.repo.repo;
  if (f.repoAuthTokenFile && f.repoAuthBasicFile)
    throw new Error('give one of --repo-auth-token-file and --repo-auth-basic-file');
  const auth = f.repoAuthTokenFile
    ? { kind: 'token' as const, file: f.repoAuthTokenFile }
    : f.repoAuthBasicFile
      ? { kind: 'basic' as const, file: f.repoAuthBasicFile }
      : same
        ? promoter?.repo.auth
        : undefined;
  if (auth && !isUrl(repo)) throw new Error('--repo-auth-… files are for a repository at a URL');
  return {
    repo,
    ref: f.repoRef ?? (same ? promoter?.repo.ref : undefined) ?? 'main',
    ...(auth ? { auth } : {}),
    ...(f.repoTrustedKeys?.length ? { trustedKeys: f.repoTrustedKeys } : {}),
    intervalMs: durationMs(f.repoInterval ?? '30s', '--repo-interval'),
  };
}
