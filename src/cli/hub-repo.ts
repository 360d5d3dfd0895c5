// `rollgate hub --repo …`: what the hub reads of the fleet repo, from its flags (./args/hub-repo.ts),
// falling back to the promoter's repository, branch and credentials when the hub runs one.

import { durationMs } from '../base/duration.js';
import type { FleetRepoSpec } from '../hub/fleet-repo.js';
import type { PromoterSettings } from '../hub/index.js';
import type { RepoFileConfig } from '../hub/config.js';
import { isUrl } from '../sync/index.js';

export interface RepoFlags {
  repo?: string;
  repoRef?: string;
  repoAuthTokenFile?: string;
  repoAuthBasicFile?: string;
  repoTrustedKeys?: string[];
  repoInterval?: string;
  repoCaFile?: string;
}

/**
 * What the pages read, or undefined when neither --repo, hub.yaml's `repo:` nor a promoter names a
 * repository. Flags win over the file, the file over the promoter's settings.
 */
export function repoSettings(
  f: RepoFlags,
  promoter: PromoterSettings | undefined,
  file: RepoFileConfig = {},
): FleetRepoSpec | undefined {
  const repo = f.repo ?? file.url ?? promoter?.repo.repo;
  if (!repo) return undefined;
  const same = repo === promoter?.repo.repo;
  const tokenFile = f.repoAuthTokenFile ?? (f.repoAuthBasicFile ? undefined : file.authTokenFile);
  const basicFile = f.repoAuthBasicFile ?? (f.repoAuthTokenFile ? undefined : file.authBasicFile);
  if (tokenFile && basicFile)
    throw new Error(
      'give one of --repo-auth-token-file and --repo-auth-basic-file (or repo.authTokenFile and …BasicFile)',
    );
  const auth = tokenFile
    ? { kind: 'token' as const, file: tokenFile }
    : basicFile
      ? { kind: 'basic' as const, file: basicFile }
      : same
        ? promoter?.repo.auth
        : undefined;
  if (auth && !isUrl(repo)) throw new Error('--repo-auth-… files are for a repository at a URL');
  // The promoter's repository is read with the promoter's CAs, as with its credentials.
  const caFile = f.repoCaFile ?? file.caFile ?? (same ? promoter?.repo.caFile : undefined);
  if (caFile && !isUrl(repo))
    throw new Error(`--repo-ca-file (repo.caFile) is for a repository at an https URL, not the path ${repo}`);
  const trustedKeys = f.repoTrustedKeys?.length ? f.repoTrustedKeys : file.trustedKeys;
  return {
    repo,
    ref: f.repoRef ?? file.ref ?? (same ? promoter?.repo.ref : undefined) ?? 'main',
    ...(auth ? { auth } : {}),
    ...(trustedKeys?.length ? { trustedKeys } : {}),
    ...(caFile ? { caFile } : {}),
    intervalMs: durationMs(
      f.repoInterval ?? file.interval ?? '30s',
      f.repoInterval ? '--repo-interval' : 'repo.interval',
    ),
  };
}
