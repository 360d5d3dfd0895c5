// The key the promoter signs rollout commits with: an armored OpenPGP private key, used in process
// with openpgp.js (no gpg needed on a hub or a CI runner). The signature is over the exact bytes of
// the commit object, as git makes it and as gateways verify it (src/trust/verify.ts).

import { readFile } from 'node:fs/promises';
import { createMessage, decryptKey, readPrivateKey, sign, type PrivateKey } from 'openpgp';

export interface CommitSigner {
  /** Author and committer of the commits: the key's first user id. */
  name: string;
  email: string;
  /** The key's fingerprint, upper case, for messages. */
  fingerprint: string;
  /** An armored detached signature of `payload`. */
  sign(payload: string): Promise<string>;
}

export class SigningKeyError extends Error {
  override name = 'SigningKeyError';
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new SigningKeyError(`cannot read ${what} ${file}: ${e.code === 'ENOENT' ? 'it does not exist' : e.message}`);
  }
}

/** Reads the key (decrypted with the passphrase file's content when it is protected). */
export async function readSigner(keyFile: string, passphraseFile?: string): Promise<CommitSigner> {
  const text = await readText(keyFile, 'the signing key');
  if (!text.includes('-----BEGIN PGP PRIVATE KEY BLOCK-----'))
    throw new SigningKeyError(
      `${keyFile} is not an armored OpenPGP private key (gpg --export-secret-keys --armor <key> writes one)` +
        (text.includes('PUBLIC KEY') ? ': it holds a public key' : ''),
    );
  let key: PrivateKey;
  try {
    key = await readPrivateKey({ armoredKey: text });
  } catch (err) {
    throw new SigningKeyError(`${keyFile}: not a readable OpenPGP private key: ${(err as Error).message}`);
  }
  if (!key.isDecrypted()) {
    if (!passphraseFile)
      throw new SigningKeyError(
        `${keyFile} is protected by a passphrase: give it in a file, --signing-passphrase-file`,
      );
    const passphrase = (await readText(passphraseFile, 'the passphrase file')).replace(/\r?\n$/, '');
    try {
      key = await decryptKey({ privateKey: key, passphrase });
    } catch (err) {
      throw new SigningKeyError(
        `the passphrase in ${passphraseFile} does not open ${keyFile}: ${(err as Error).message}`,
      );
    }
  }
  try {
    await key.getSigningKey();
  } catch (err) {
    throw new SigningKeyError(`${keyFile} cannot sign: ${(err as Error).message}`);
  }
  const uid = key.getUserIDs()[0] ?? '';
  const m = /^(.*?)\s*<([^>]*)>\s*$/.exec(uid);
  const fingerprint = key.getFingerprint().toUpperCase();
  return {
    name: (m ? m[1] : uid) || 'rollgate promoter',
    email: (m ? m[2] : '') || 'promoter@rollgate.invalid',
    fingerprint,
    async sign(payload) {
      const message = await createMessage({ binary: new TextEncoder().encode(payload) });
      return (await sign({ message, signingKeys: key, detached: true, format: 'armored' })) as string;
    },
  };
}
