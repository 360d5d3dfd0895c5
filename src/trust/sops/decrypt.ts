// Decrypting a SOPS tree, as sops's Go code does it (sops.go `Tree.Decrypt`, aes/cipher.go,
// cmd/sops/common `DecryptTree`): every value that the metadata's suffix and regex rules say is
// encrypted is `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`, opened with the 32-byte data key and
// the value's path (keys joined by `:`, plus a trailing `:`; list items take their parent's path)
// as additional data. The MAC is SHA-512 over every value's plaintext in the file's order (upper-case
// hex), stored encrypted with the data key and the `lastmodified` time as additional data; a
// mismatch means the file was changed by something that did not hold the data key.

import { createDecipheriv, createHash } from 'node:crypto';
import type { SopsFile, SopsValue } from './format.js';
import { compileSopsRegex, SopsRegexError, type SopsRegex } from './regex.js';

export class SopsDecryptError extends Error {
  override name = 'SopsDecryptError';
}

const ENC = /^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]/;
/** sops's fixed prefix of the MAC when it covers only the encrypted values (mac_only_encrypted). */
const MAC_ONLY_ENCRYPTED_INIT = Buffer.from('8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69', 'hex');

export interface Decrypted {
  tree: Map<string, SopsValue>;
  /** Every plaintext the file's encryption hid, for the process's list of secrets. */
  secrets: string[];
}

/** Whether a value at `path` is encrypted, by the metadata's rules (sops.go `shouldBeEncrypted`). */
export function encryptionRule(metadata: Map<string, SopsValue>): (path: readonly string[]) => boolean {
  const text = (k: string): string => {
    const v = metadata.get(k);
    return typeof v === 'string' ? v : '';
  };
  for (const k of ['encrypted_comment_regex', 'unencrypted_comment_regex'])
    if (text(k) !== '') throw new SopsDecryptError(`its metadata sets ${k}, which rollgate does not support`);
  // Go's RE2, never a backtracking RegExp: the pattern is the commit's, the time to match it the gateway's.
  const regex = (k: string): SopsRegex | undefined => {
    if (text(k) === '') return undefined;
    try {
      return compileSopsRegex(text(k));
    } catch (err) {
      if (!(err instanceof SopsRegexError)) throw err;
      throw new SopsDecryptError(`its metadata's ${k} is not a regular expression rollgate can read: ${err.message}`);
    }
  };
  const unencSuffix = text('unencrypted_suffix');
  const encSuffix = text('encrypted_suffix');
  const unencRe = regex('unencrypted_regex');
  const encRe = regex('encrypted_regex');
  return (path) => {
    let encrypted = true;
    if (unencSuffix !== '' && path.some((p) => p.endsWith(unencSuffix))) encrypted = false;
    if (encSuffix !== '') encrypted = path.some((p) => p.endsWith(encSuffix));
    if (unencRe && path.some((p) => unencRe.test(p))) encrypted = false;
    if (encRe) encrypted = path.some((p) => encRe.test(p));
    return encrypted;
  };
}

/** One encrypted value opened: its plaintext bytes and its type. Throws when the key or data do not fit. */
export function openValue(value: string, key: Uint8Array, aad: string): { bytes: Buffer; type: string } {
  const m = ENC.exec(value);
  if (!m) throw new SopsDecryptError('a value that should be encrypted is not in sops’s ENC[AES256_GCM,…] form');
  const [data, iv, tag] = [m[1]!, m[2]!, m[3]!].map((b) => Buffer.from(b, 'base64'));
  if (iv!.length === 0 || tag!.length !== 16) throw new SopsDecryptError('an encrypted value has a broken iv or tag');
  try {
    const d = createDecipheriv('aes-256-gcm', key, iv!, { authTagLength: 16 });
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(tag!);
    return { bytes: Buffer.concat([d.update(data!), d.final()]), type: m[4]! };
  } catch {
    throw new SopsDecryptError('a value does not decrypt with the data key (changed, or moved to another key)');
  }
}

/** Go's strconv.FormatFloat(f, 'f', -1, 64): the shortest digits, never an exponent. */
function goFloat(n: number): string {
  const s = String(n);
  return /e/i.test(s) ? n.toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 20 }) : s;
}

/** A decrypted value as sops's `ToBytes` writes it into the MAC, and as a typed value for the plaintext file. */
function typed(bytes: Buffer, type: string): { value: SopsValue; mac: string } {
  const s = bytes.toString('utf8');
  switch (type) {
    case 'str':
    case 'bytes':
    case 'time':
      return { value: s, mac: s };
    case 'int': {
      const n = Number.parseInt(s, 10);
      if (!/^[+-]?\d+$/.test(s) || !Number.isSafeInteger(n))
        throw new SopsDecryptError('an int value is not an integer');
      return { value: n, mac: String(n) };
    }
    case 'float': {
      const n = Number(s);
      if (s.trim() === '' || !Number.isFinite(n)) throw new SopsDecryptError('a float value is not a number');
      return { value: n, mac: goFloat(n) };
    }
    case 'bool': {
      const t = ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s);
      if (!t && !['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s))
        throw new SopsDecryptError('a bool value is not a boolean');
      return { value: t, mac: t ? 'True' : 'False' };
    }
    default:
      throw new SopsDecryptError(`a value has the unknown type "${type}"`);
  }
}

/** A value left in clear, as `ToBytes` writes it into the MAC. */
function clearMac(v: string | number | boolean): string {
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : goFloat(v);
  return v;
}

/**
 * The file's tree decrypted with `dataKey`, its MAC checked. Throws SopsDecryptError with a reason
 * that quotes no value.
 */
export function decryptTree(file: SopsFile, dataKey: Uint8Array): Decrypted {
  const rule = encryptionRule(file.metadata);
  const macOnlyEncrypted = file.metadata.get('mac_only_encrypted') === true;
  const hash = createHash('sha512');
  if (macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_INIT);
  const secrets: string[] = [];
  const leaf = (v: string | number | boolean, path: readonly string[]): SopsValue => {
    const encrypted = rule(path);
    let out: SopsValue = v;
    let mac: string;
    if (!encrypted) mac = clearMac(v);
    else if (typeof v !== 'string') throw new SopsDecryptError(`the value at ${path.join('.')} should be encrypted`);
    else if (v === '') mac = '';
    else {
      const opened = openValue(v, dataKey, path.join(':') + ':');
      ({ value: out, mac } = typed(opened.bytes, opened.type));
      secrets.push(opened.bytes.toString('utf8'));
    }
    if (!macOnlyEncrypted || encrypted) hash.update(mac, 'utf8');
    return out;
  };
  const walk = (v: SopsValue, path: readonly string[]): SopsValue => {
    if (v === null) return null;
    if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, walk(x, [...path, k])]));
    if (Array.isArray(v)) return v.map((x) => walk(x, path));
    return leaf(v, path);
  };
  const tree = walk(file.tree, []) as Map<string, SopsValue>;
  const stored = file.metadata.get('mac');
  if (typeof stored !== 'string' || stored === '')
    throw new SopsDecryptError('it has no MAC (sops writes one; a file without it cannot be checked)');
  let expected: string;
  try {
    expected = openValue(stored, dataKey, macTimestamp(file.metadata.get('lastmodified'))).bytes.toString('utf8');
  } catch {
    throw new SopsDecryptError('its MAC does not decrypt (the MAC or lastmodified was changed)');
  }
  const computed = hash.digest('hex').toUpperCase();
  if (expected !== computed) throw new SopsDecryptError('MAC mismatch: its values were changed after sops wrote it');
  return { tree, secrets };
}

/** `lastmodified` as Go's time.Format(time.RFC3339) writes it back: no fraction of a second. */
function macTimestamp(v: SopsValue | undefined): string {
  if (typeof v !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v))
    throw new SopsDecryptError('its metadata has no valid lastmodified time');
  return v.replace(/\.\d+/, '');
}
