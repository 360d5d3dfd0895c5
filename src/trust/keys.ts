// The keys a gateway trusts to sign the fleet repo: files of OpenPGP public keys (armored or
// binary, as `gpg --export [--armor]` writes them) and of SSH public keys in git's
// allowed_signers format (`principals [options] keytype base64 [comment]`, the file named by
// gpg.ssh.allowedSignersFile); a plain `.pub` line is taken as a key any principal may use.

import { readFile } from 'node:fs/promises';
import type { PublicKey } from 'openpgp';
import { sshPublicKey, SshSigError, type SshPublicKey } from './sshsig.js';

export interface AllowedSigner {
  principals: string[];
  key: SshPublicKey;
  /** From `namespaces="git,..."`; absent: any namespace. */
  namespaces?: string[];
  validAfter?: Date;
  validBefore?: Date;
  /** file:line, for messages. */
  source: string;
}

export interface TrustedKeys {
  pgp: { key: PublicKey; source: string }[];
  ssh: AllowedSigner[];
  files: string[];
}

export class TrustedKeysError extends Error {
  override name = 'TrustedKeysError';
}

const KEY_TYPE = /^(ssh-|ecdsa-sha2-|sk-)/;

/** Splits an allowed_signers line into tokens; double quotes group (options may hold commas and spaces). */
function tokens(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const c of line) {
    if (c === '"') quoted = !quoted;
    if (!quoted && /\s/.test(c)) {
      if (cur) out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur) out.push(cur);
  return out;
}

/** `YYYYMMDD[HHMM[SS]][Z]`, as ssh-keygen(1) documents for valid-after / valid-before. */
function sshTime(text: string, where: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z?)$/.exec(text);
  if (!m) throw new TrustedKeysError(`${where}: "${text}" is not a time (YYYYMMDD[HHMM[SS]][Z])`);
  const [, y, mo, d, h = '00', mi = '00', s = '00', z] = m;
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}${z ? 'Z' : ''}`;
  return new Date(iso);
}

function parseOptions(text: string, where: string): Pick<AllowedSigner, 'namespaces' | 'validAfter' | 'validBefore'> {
  const out: Pick<AllowedSigner, 'namespaces' | 'validAfter' | 'validBefore'> = {};
  for (const opt of text.match(/(?:[^,"]+|"[^"]*")+/g) ?? []) {
    const eq = opt.indexOf('=');
    const name = (eq < 0 ? opt : opt.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? '' : opt.slice(eq + 1).replace(/^"|"$/g, '');
    if (name === 'namespaces') out.namespaces = value.split(',').map((s) => s.trim());
    else if (name === 'valid-after') out.validAfter = sshTime(value, where);
    else if (name === 'valid-before') out.validBefore = sshTime(value, where);
    else if (name === 'cert-authority')
      throw new TrustedKeysError(`${where}: cert-authority keys are not supported; list the signers' keys`);
    else throw new TrustedKeysError(`${where}: unknown option "${name}"`);
  }
  return out;
}

function parseAllowedSigners(text: string, file: string): AllowedSigner[] {
  const out: AllowedSigner[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const where = `${file}:${i + 1}`;
    const t = tokens(line);
    let principals = ['*'];
    let at = 0;
    if (!KEY_TYPE.test(t[0] ?? '')) {
      principals = t[0]!.split(',');
      at = 1;
    }
    let options = {};
    if (t[at] !== undefined && !KEY_TYPE.test(t[at]!)) {
      options = parseOptions(t[at]!, where);
      at++;
    }
    const type = t[at];
    const b64 = t[at + 1];
    if (!type || !b64 || !KEY_TYPE.test(type))
      throw new TrustedKeysError(
        `${where}: expected "principals [options] keytype base64-key" (git's allowed_signers format)`,
      );
    let key: SshPublicKey;
    try {
      key = sshPublicKey(Buffer.from(b64, 'base64'));
    } catch (err) {
      throw new TrustedKeysError(`${where}: ${err instanceof SshSigError ? err.message : 'not a valid SSH key'}`);
    }
    if (key.type !== type) throw new TrustedKeysError(`${where}: the key is ${key.type}, the line says ${type}`);
    out.push({ principals, key, ...options, source: where });
  });
  return out;
}

export async function readTrustedKeys(files: readonly string[]): Promise<TrustedKeys> {
  const keys: TrustedKeys = { pgp: [], ssh: [], files: [...files] };
  for (const file of files) {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (err as Error).message;
      throw new TrustedKeysError(`cannot read the trusted keys file ${file}: ${why}`);
    }
    const text = bytes.toString('utf8');
    const armored = text.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----');
    if (armored || (bytes.length > 0 && (bytes[0]! & 0x80) !== 0)) {
      try {
        // openpgp.js is loaded by the first OpenPGP key: a gateway without one never loads it.
        const { readKeys } = await import('openpgp');
        const found = armored
          ? await readKeys({ armoredKeys: text })
          : await readKeys({ binaryKeys: new Uint8Array(bytes) });
        for (const key of found) keys.pgp.push({ key, source: file });
      } catch (err) {
        throw new TrustedKeysError(`${file}: not a readable OpenPGP public key: ${(err as Error).message}`);
      }
    } else if (text.includes('PRIVATE KEY')) {
      throw new TrustedKeysError(`${file} holds a private key; a gateway needs only public keys`);
    } else keys.ssh.push(...parseAllowedSigners(text, file));
  }
  if (files.length > 0 && keys.pgp.length === 0 && keys.ssh.length === 0)
    throw new TrustedKeysError(`the trusted keys files (${files.join(', ')}) hold no key`);
  return keys;
}
