// Mender artifact signatures, as Mender's ArtifactVerifyKey checks them: `manifest.sig` holds
// the base64 signature, by the release key, over the artifact's `manifest` (which lists the
// sha256 of every other file in the artifact). RSA keys sign with PKCS#1 v1.5 and SHA-256,
// ECDSA P-256 keys as raw r‖s over SHA-256 (what `mender-artifact sign` writes); Ed25519 too.

import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface ArtifactKey {
  key: KeyObject;
  file: string;
}

export class ArtifactKeyError extends Error {
  override name = 'ArtifactKeyError';
}

/** PEM public keys (`openssl pkey -pubout`, what `mender-artifact validate -k` takes). */
export function readArtifactKeys(files: readonly string[]): ArtifactKey[] {
  return files.map((file) => {
    let pem: string;
    try {
      pem = readFileSync(file, 'utf8');
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (err as Error).message;
      throw new ArtifactKeyError(`cannot read the artifact verification key ${file}: ${why}`);
    }
    if (pem.includes('PRIVATE KEY'))
      throw new ArtifactKeyError(`${file} holds a private key; a gateway needs only the public key`);
    try {
      const key = createPublicKey(pem);
      const type = key.asymmetricKeyType;
      if (type !== 'rsa' && type !== 'ec' && type !== 'ed25519')
        throw new ArtifactKeyError(`${file}: a ${type} key; artifact keys are RSA, ECDSA P-256 or Ed25519`);
      return { key, file };
    } catch (err) {
      if (err instanceof ArtifactKeyError) throw err;
      throw new ArtifactKeyError(`${file} is not a PEM public key: ${(err as Error).message}`);
    }
  });
}

/** Whether `signature` (the text of manifest.sig) is a signature over `manifest` by one of `keys`. */
export function artifactSignedBy(
  manifest: Buffer,
  signature: string,
  keys: readonly ArtifactKey[],
): ArtifactKey | undefined {
  const sig = Buffer.from(signature.trim(), 'base64');
  return keys.find(({ key }) => {
    try {
      const type = key.asymmetricKeyType;
      if (type === 'ed25519') return verify(null, manifest, key, sig);
      if (type === 'ec') return verify('sha256', manifest, { key, dsaEncoding: 'ieee-p1363' }, sig);
      return verify('sha256', manifest, key, sig);
    } catch {
      return false;
    }
  });
}
