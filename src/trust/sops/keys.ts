// The keys that open SOPS files: age identities (`AGE-SECRET-KEY-1…` lines, as age-keygen writes
// them) and armored OpenPGP private keys, read from files. A SOPS file keeps its 32-byte data key
// once per recipient (`sops.age[].enc`: an armored age file; `sops.pgp[].enc`: an armored OpenPGP
// message; or the same inside `key_groups`); the first of the gateway's keys that opens one of them
// gives the data key. openpgp.js is loaded only when a file names an OpenPGP recipient and the
// gateway holds an OpenPGP key.

import { readFile, stat } from 'node:fs/promises';
import type { PrivateKey } from 'openpgp';
import { processSecrets } from '../../base/redact.js';
import type { SopsValue } from './format.js';

export interface DecryptionKeys {
  age: { identity: string; recipient: string; source: string }[];
  pgp: { armored: string; fingerprint: string; source: string }[];
  files: string[];
}

export const NO_KEYS: DecryptionKeys = { age: [], pgp: [], files: [] };

export class DecryptionKeyError extends Error {
  override name = 'DecryptionKeyError';
}

const AGE_IDENTITY = /^AGE-SECRET-KEY-1[0-9A-Z]+$/;
const PGP_PRIVATE = /-----BEGIN PGP PRIVATE KEY BLOCK-----[\s\S]*?-----END PGP PRIVATE KEY BLOCK-----/g;

/**
 * Reads key files. With `ownerOnly` (the agent's `secrets.keyFiles`), a file that its group or others
 * may read is refused: a key the whole gateway can read protects nothing.
 */
export async function readDecryptionKeys(files: readonly string[], ownerOnly: boolean): Promise<DecryptionKeys> {
  const out: DecryptionKeys = { age: [], pgp: [], files: [...files] };
  for (const file of files) {
    let text: string;
    try {
      const st = await stat(file);
      if (!st.isFile()) throw new DecryptionKeyError(`decryption key ${file} is not a regular file`);
      if (ownerOnly && (st.mode & 0o077) !== 0)
        throw new DecryptionKeyError(
          `decryption key ${file} may be read by others than its owner (mode ${(st.mode & 0o777).toString(8)}); ` +
            `chmod 600 it`,
        );
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (err instanceof DecryptionKeyError) throw err;
      throw new DecryptionKeyError(`decryption key ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    processSecrets.add([text]);
    const before = out.age.length + out.pgp.length;
    const { identityToRecipient } = await import('age-encryption');
    for (const line of text.split(/\r?\n/).map((l) => l.trim())) {
      if (!AGE_IDENTITY.test(line)) continue;
      processSecrets.add([line]);
      try {
        out.age.push({ identity: line, recipient: await identityToRecipient(line), source: file });
      } catch {
        throw new DecryptionKeyError(`decryption key ${file} holds an age identity that is not valid`);
      }
    }
    for (const armored of text.match(PGP_PRIVATE) ?? []) {
      const { readPrivateKey } = await import('openpgp');
      let key: PrivateKey;
      try {
        key = await readPrivateKey({ armoredKey: armored });
      } catch (err) {
        throw new DecryptionKeyError(`decryption key ${file}: not a readable OpenPGP private key (${String(err)})`);
      }
      if (!key.isDecrypted())
        throw new DecryptionKeyError(`decryption key ${file} is protected by a passphrase; the gateway cannot use it`);
      out.pgp.push({ armored, fingerprint: key.getFingerprint().toUpperCase(), source: file });
    }
    if (out.age.length + out.pgp.length === before)
      throw new DecryptionKeyError(
        `decryption key ${file} holds neither an age identity (AGE-SECRET-KEY-1…) nor an armored OpenPGP private key`,
      );
  }
  return out;
}

interface Stanza {
  kind: 'age' | 'pgp';
  /** The age recipient or the OpenPGP fingerprint, as the file names it. */
  name: string;
  enc: string;
}

/** The most recipients a file may name. */
const MAX_STANZAS = 1000;

/** The encrypted data keys a file's metadata holds, top-level and in key groups. */
function stanzas(metadata: Map<string, SopsValue>): Stanza[] {
  const out: Stanza[] = [];
  const collect = (group: Map<string, SopsValue>) => {
    for (const kind of ['age', 'pgp'] as const) {
      const list = group.get(kind);
      if (!Array.isArray(list)) continue;
      for (const e of list) {
        if (!(e instanceof Map) || typeof e.get('enc') !== 'string') continue;
        const name = e.get(kind === 'age' ? 'recipient' : 'fp');
        out.push({ kind, name: typeof name === 'string' ? name : '?', enc: e.get('enc') as string });
      }
    }
  };
  collect(metadata);
  const groups = metadata.get('key_groups');
  if (Array.isArray(groups)) {
    if (groups.length > 1)
      throw new DecryptionKeyError(
        'it splits its data key over several key groups (Shamir), which rollgate does not support',
      );
    for (const g of groups) if (g instanceof Map) collect(g);
  }
  // Each is a public-key decryption tried with every key held: a file of tens of thousands would
  // hold the agent for minutes.
  if (out.length > MAX_STANZAS)
    throw new DecryptionKeyError(`it names ${out.length} recipients; rollgate opens files of at most ${MAX_STANZAS}`);
  return out;
}

/** Which of the file's recipients are of a kind rollgate cannot open (KMS, Vault): named in messages. */
function otherRecipients(metadata: Map<string, SopsValue>): string[] {
  return ['kms', 'gcp_kms', 'azure_kv', 'hc_vault'].filter(
    (k) => Array.isArray(metadata.get(k)) && (metadata.get(k) as SopsValue[]).length > 0,
  );
}

/** The file's data key, opened with one of `keys`; throws naming the recipients and the keys held. */
export async function openDataKey(metadata: Map<string, SopsValue>, keys: DecryptionKeys): Promise<Uint8Array> {
  const all = stanzas(metadata);
  const failures: string[] = [];
  let pgpKeys: PrivateKey[] | undefined;
  for (const s of all) {
    if (s.kind === 'age' && keys.age.length > 0) {
      const { Decrypter, armor } = await import('age-encryption');
      const d = new Decrypter();
      for (const k of keys.age) d.addIdentity(k.identity);
      try {
        return checkLength(await d.decrypt(armor.decode(s.enc)));
      } catch (err) {
        if (err instanceof DecryptionKeyError) throw err;
        if (keys.age.some((k) => k.recipient === s.name)) failures.push(`age ${s.name}: ${String(err)}`);
      }
    }
    if (s.kind === 'pgp' && keys.pgp.length > 0) {
      const openpgp = await import('openpgp');
      try {
        pgpKeys ??= await Promise.all(keys.pgp.map((k) => openpgp.readPrivateKey({ armoredKey: k.armored })));
        return checkLength(await pgpDataKey(openpgp, s.enc, pgpKeys));
      } catch (err) {
        if (err instanceof DecryptionKeyError) throw err;
        if (keys.pgp.some((k) => k.fingerprint === s.name.toUpperCase()))
          failures.push(`OpenPGP ${s.name}: ${String(err)}`);
      }
    }
  }
  const wanted = [...all.map((s) => `${s.kind === 'age' ? 'age' : 'OpenPGP'} ${s.name}`), ...otherRecipients(metadata)];
  const held = [...keys.age.map((k) => `age ${k.recipient}`), ...keys.pgp.map((k) => `OpenPGP ${k.fingerprint}`)];
  if (failures.length) throw new DecryptionKeyError(`its data key does not decrypt: ${failures.join('; ')}`);
  throw new DecryptionKeyError(
    `no key this gateway holds opens it: it is encrypted for ${wanted.join(', ') || 'no recipient'}; ` +
      (held.length ? `the keys held are ${held.join(', ')}` : 'no decryption key is configured'),
  );
}

/**
 * An OpenPGP stanza's data key, read as a stream and no further than a data key can be: the message
 * is the commit's, and gpg compresses what it encrypts, so a few hundred kilobytes of it can inflate
 * to gigabytes (an agent killed for its memory). Reading on to the end checks the message's MDC or
 * AEAD tag, which openpgp.js does as the stream ends.
 */
async function pgpDataKey(openpgp: typeof import('openpgp'), armored: string, keys: PrivateKey[]): Promise<Uint8Array> {
  const armoredMessage = new ReadableStream<string>({
    start(c) {
      c.enqueue(armored);
      c.close();
    },
  });
  const message = await openpgp.readMessage({ armoredMessage });
  const { data } = await openpgp.decrypt({
    message,
    decryptionKeys: keys,
    format: 'binary',
    config: { allowUnauthenticatedStream: true },
  });
  const reader = data.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_DATA_KEY) {
      await reader.cancel();
      throw new DecryptionKeyError(`its data key is more than ${MAX_DATA_KEY} bytes, not 32`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** What a data key may be read up to before it is refused (it is 32 bytes). */
const MAX_DATA_KEY = 1024;

function checkLength(key: Uint8Array): Uint8Array {
  if (key.length !== 32) throw new DecryptionKeyError(`its data key is ${key.length} bytes, not 32`);
  return key;
}
