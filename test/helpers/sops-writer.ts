// Writes SOPS files for tests whose recipients are age keys made by Debian's age CLI: the data key
// is wrapped by `age -r … -a` (the real tool), the values are encrypted here as sops's aes/cipher.go
// does (AES-256-GCM, 32-byte nonce, the path as additional data) and the MAC computed as sops.go does.
// No sops binary is to be had offline; the files sops itself made are test/fixtures/sops/.

import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface AgeKey {
  /** The identity file age-keygen wrote (mode 0600). */
  file: string;
  recipient: string;
}

/** A new age key pair, made by age-keygen. */
export function ageKeygen(): AgeKey {
  const dir = mkdtempSync(join(tmpdir(), 'rollgate-age-'));
  const file = join(dir, 'key.txt');
  execFileSync('age-keygen', ['-o', file], { stdio: ['ignore', 'ignore', 'ignore'] });
  chmodSync(file, 0o600);
  const recipient = execFileSync('age-keygen', ['-y', file], { encoding: 'utf8' }).trim();
  return { file, recipient };
}

/** `dataKey` wrapped for `recipients` by the age CLI, armored as sops stores it. */
export function ageWrap(dataKey: Buffer, recipients: readonly string[]): string {
  const args = ['-a', ...recipients.flatMap((r) => ['-r', r])];
  return execFileSync('age', args, { input: dataKey, encoding: 'utf8' });
}

const enc = (value: string, key: Buffer, path: readonly string[]): string =>
  value === '' ? '' : encAad(value, key, path.join(':') + ':');

export type Store = 'yaml' | 'dotenv' | 'binary';

/**
 * A SOPS file of flat string `values` (for binary: `{ data: <file content> }`) encrypted for each
 * age recipient, every recipient getting its own stanza as sops writes them.
 */
export function sopsEncrypt(store: Store, values: Record<string, string>, recipients: readonly string[]): string {
  const dataKey = randomBytes(32);
  const hash = createHash('sha512');
  const encrypted: [string, string][] = Object.entries(values).map(([k, v]) => {
    hash.update(v, 'utf8');
    return [k, enc(v, dataKey, [k])];
  });
  const lastmodified = '2026-11-30T10:00:00Z';
  // The MAC's additional data is the time, not a path.
  const macValue = encAad(hash.digest('hex').toUpperCase(), dataKey, lastmodified);
  const age = recipients.map((r) => ({ recipient: r, enc: ageWrap(dataKey, [r]) }));
  if (store === 'dotenv') {
    const lines = encrypted.map(([k, v]) => `${k}=${v}`);
    age.forEach((a, i) => {
      lines.push(`sops_age__list_${i}__map_enc=${a.enc.replace(/\n/g, '\\n')}`);
      lines.push(`sops_age__list_${i}__map_recipient=${a.recipient}`);
    });
    lines.push(`sops_lastmodified=${lastmodified}`, `sops_mac=${macValue}`, 'sops_version=3.13.1');
    return lines.join('\n') + '\n';
  }
  const doc = {
    ...Object.fromEntries(encrypted),
    sops: { age, lastmodified, mac: macValue, unencrypted_suffix: '_unencrypted', version: '3.13.1' },
  };
  return store === 'binary' ? JSON.stringify(doc, null, '\t') + '\n' : stringify(doc);
}

function encAad(value: string, key: Buffer, aad: string): string {
  const iv = randomBytes(32);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad));
  const data = Buffer.concat([c.update(value, 'utf8'), c.final()]);
  const b = (x: Buffer) => x.toString('base64');
  return `ENC[AES256_GCM,data:${b(data)},iv:${b(iv)},tag:${b(c.getAuthTag())},type:str]`;
}
