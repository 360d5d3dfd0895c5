// `rollgate hub --promote-repo …`: the promoter loop's settings, from its flags (./args/hub-promoter.ts)
// or the `promoter:` map of hub.yaml (flags win), the signing key read once at start.

import { hostname } from 'node:os';
import { durationMs } from '../base/duration.js';
import type { PromoterFileConfig, PromoterSettings } from '../hub/index.js';
import { readSigner } from '../promoter/index.js';
import { isUrl } from '../sync/index.js';

export interface PromoterFlags {
  promoteRepo?: string;
  promoteRef?: string;
  promoteSigningKey?: string;
  promoteSigningPassphraseFile?: string;
  promoteAuthTokenFile?: string;
  promoteAuthBasicFile?: string;
  promoteCaFile?: string;
  promoteBy?: string;
  promoteInterval?: string;
}

/** The promoter's settings, or undefined when no repo is given. */
export async function promoterSettings(
  f: PromoterFlags,
  file: PromoterFileConfig | undefined,
): Promise<PromoterSettings | undefined> {
  const repo = f.promoteRepo ?? file?.repo;
  if (!repo) return undefined;
  const key = f.promoteSigningKey ?? file?.signingKey;
  if (!key)
    throw new Error(
      'the promoter signs each step: give --promote-signing-key (promoter.signingKey), an armored OpenPGP private key',
    );
  const token = f.promoteAuthTokenFile ?? file?.authTokenFile;
  const basic = f.promoteAuthBasicFile ?? file?.authBasicFile;
  if (token && basic) throw new Error('give one of --promote-auth-token-file and --promote-auth-basic-file');
  if ((token || basic) && !isUrl(repo)) throw new Error('--promote-auth-… files are for a repository at a URL');
  const caFile = f.promoteCaFile ?? file?.caFile;
  if (caFile && !repo.startsWith('https://'))
    throw new Error(`--promote-ca-file (promoter.caFile) is for a repository at an https URL, not ${repo}`);
  const passphrase = f.promoteSigningPassphraseFile ?? file?.signingPassphraseFile;
  return {
    repo: {
      repo,
      ref: f.promoteRef ?? file?.ref ?? 'main',
      ...(token ? { auth: { kind: 'token' as const, file: token } } : {}),
      ...(basic ? { auth: { kind: 'basic' as const, file: basic } } : {}),
      ...(caFile ? { caFile } : {}),
    },
    signer: await readSigner(key, passphrase),
    by: f.promoteBy ?? file?.by ?? `promoter@${hostname()}`,
    intervalMs: durationMs(f.promoteInterval ?? file?.interval ?? '1m', '--promote-interval'),
  };
}
