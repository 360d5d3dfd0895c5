// The promoter's signing key, made by gpg: a signature it makes verifies as a gateway verifies a
// commit (src/trust against the public key); a key under a passphrase opens only with it; a file
// that is no private key is refused, saying what it holds.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { readSigner } from '../../src/promoter/index.js';
import { checkSignature, readTrustedKeys } from '../../src/trust/index.js';
import { tempDir } from '../helpers/fixtures.js';
import { Keyring, type GpgKey } from '../helpers/signing.js';

describe("the promoter's signer", () => {
  const dir = tempDir();
  const ring = new Keyring(join(dir, 'keys'));
  let key: GpgKey;
  const plain = join(dir, 'plain.key');
  const locked = join(dir, 'locked.key');
  const passphrase = join(dir, 'passphrase');
  const gpg = (pass: string, ...args: string[]) =>
    execFileSync('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', pass, ...args], { env: ring.env });

  before(() => {
    key = ring.gpgKey('Promoter');
    writeFileSync(plain, gpg('', '--armor', '--export-secret-keys', key.fingerprint));
    gpg('s3cret-phrase', '--quick-gen-key', 'Locked <locked@example.com>', 'ed25519', 'sign', 'never');
    writeFileSync(locked, gpg('s3cret-phrase', '--armor', '--export-secret-keys', 'locked@example.com'));
    writeFileSync(passphrase, 's3cret-phrase\n');
  });

  test('signs what a gateway verifies with the public key, and names itself by its user id', async () => {
    const s = await readSigner(plain);
    assert.deepEqual([s.name, s.email, s.fingerprint], ['Promoter', 'promoter@example.com', key.fingerprint]);
    const payload = 'tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nrollout edge-v2: start\n';
    const signature = await s.sign(payload);
    const r = await checkSignature(Buffer.from(payload), signature, await readTrustedKeys([key.publicFile]));
    assert.deepEqual(r, { ok: true, signer: `Promoter <promoter@example.com> (OpenPGP, ${key.publicFile})` });
  });

  test('a key under a passphrase: refused without it, opened with its file', async () => {
    await assert.rejects(
      readSigner(locked),
      /is protected by a passphrase: give it in a file, --signing-passphrase-file/,
    );
    const s = await readSigner(locked, passphrase);
    assert.equal(s.email, 'locked@example.com');
    writeFileSync(join(dir, 'wrong'), 'not it\n');
    await assert.rejects(readSigner(locked, join(dir, 'wrong')), /the passphrase in .*wrong does not open/);
  });

  test('a public key, or no file, is refused saying so', async () => {
    await assert.rejects(readSigner(key.publicFile), /is not an armored OpenPGP private key .*: it holds a public key/);
    await assert.rejects(readSigner(join(dir, 'none')), /cannot read the signing key .*none: it does not exist/);
  });
});
