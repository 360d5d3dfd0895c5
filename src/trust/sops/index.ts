// SOPS-encrypted files of the fleet repo: recognised, decrypted in memory with the gateway's keys
// and checked against their MAC, or, without a key, checked for their structure only.

import { processSecrets } from '../../base/redact.js';
import { decryptTree, encryptionRule, SopsDecryptError } from './decrypt.js';
import { emitPlain, readSopsFile, SopsFormatError, type SopsStore, type SopsValue } from './format.js';
import { DecryptionKeyError, openDataKey, type DecryptionKeys } from './keys.js';

export { looksLikeSops } from './format.js';
export { DecryptionKeyError, NO_KEYS, readDecryptionKeys, type DecryptionKeys } from './keys.js';

/** Why an encrypted file could not be used; the message names no plaintext. */
export class SopsError extends Error {
  override name = 'SopsError';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file} is SOPS-encrypted, and ${reason}`);
  }
}

export type SopsResult =
  | { kind: 'plain' }
  /** Decrypted; `secrets` are also registered with the process's redactor. */
  | { kind: 'decrypted'; store: SopsStore; bytes: Uint8Array; secrets: string[] }
  /** No key was given: the structure is sound, the values and the MAC are unchecked. */
  | { kind: 'unchecked'; store: SopsStore; bytes: Uint8Array; note: string };

/** A stand-in for each encrypted value when no key opens the file (`rollgate validate` without a key). */
export const UNCHECKED_VALUE = 'sops-encrypted-value';

const reasonOf = (err: unknown): string => {
  if (err instanceof SopsDecryptError || err instanceof DecryptionKeyError) return err.message;
  if (err instanceof SopsFormatError) return `it is not a valid SOPS file: ${err.message}`;
  throw err;
};

/**
 * Reads `bytes` of repo file `file`. A plain file is `plain`; an encrypted one is decrypted with
 * `keys`, or with `keys` null (no key given at all) checked for its structure. Throws SopsError.
 */
export async function openSopsFile(file: string, bytes: Uint8Array, keys: DecryptionKeys | null): Promise<SopsResult> {
  const text = Buffer.from(bytes).toString('utf8');
  let parsed;
  try {
    parsed = readSopsFile(file, text);
  } catch (err) {
    throw new SopsError(file, reasonOf(err));
  }
  if (!parsed) return { kind: 'plain' };
  try {
    if (keys === null) {
      const tree = structureOnly(parsed.tree, parsed.metadata);
      return {
        kind: 'unchecked',
        store: parsed.store,
        bytes: emitPlain(parsed, tree),
        note: `${file} is SOPS-encrypted; without a decryption key its values and MAC were not checked`,
      };
    }
    const dataKey = await openDataKey(parsed.metadata, keys);
    const { tree, secrets } = decryptTree(parsed, dataKey);
    processSecrets.add(secrets);
    return { kind: 'decrypted', store: parsed.store, bytes: emitPlain(parsed, tree), secrets };
  } catch (err) {
    throw new SopsError(file, reasonOf(err));
  }
}

/** The tree with every encrypted value replaced by UNCHECKED_VALUE, after checking each is in sops's form. */
function structureOnly(tree: Map<string, SopsValue>, metadata: Map<string, SopsValue>): Map<string, SopsValue> {
  const rule = encryptionRule(metadata);
  if (typeof metadata.get('mac') !== 'string') throw new SopsDecryptError('it has no MAC');
  const walk = (v: SopsValue, path: readonly string[]): SopsValue => {
    if (v === null) return null;
    if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, walk(x, [...path, k])]));
    if (Array.isArray(v)) return v.map((x) => walk(x, path));
    if (!rule(path) || v === '') return v;
    if (typeof v !== 'string' || !v.startsWith('ENC[AES256_GCM,'))
      throw new SopsDecryptError(`the value at ${path.join('.')} should be encrypted and is not`);
    return UNCHECKED_VALUE;
  };
  return walk(tree, []) as Map<string, SopsValue>;
}
