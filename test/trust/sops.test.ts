// SOPS files decrypted as sops does it: files the sops tool made (test/fixtures/sops, OpenPGP, with
// sops's own test key) and files whose data key Debian's age CLI wrapped. Every way a file can be
// unusable is a refusal that names the file and the reason, and quotes no plaintext.

import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { processSecrets } from '../../src/base/redact.js';
import {
  NO_KEYS,
  openSopsFile,
  readDecryptionKeys,
  SopsError,
  UNCHECKED_VALUE,
  type DecryptionKeys,
} from '../../src/trust/index.js';
import { projectRoot } from '../helpers/fixtures.js';
import { ageKeygen, sopsEncrypt } from '../helpers/sops-writer.js';
import { tempDirs } from '../helpers/temp-dirs.js';

const fixtures = join(projectRoot, 'test', 'fixtures', 'sops');
const fixture = (name: string) => readFileSync(join(fixtures, name));
const tmp = tempDirs('rollgate-sops-');

/** sops's functional-test key, copied where only its owner may read it. */
async function sopsTestKey(): Promise<DecryptionKeys> {
  const file = join(tmp(), 'key.asc');
  copyFileSync(join(fixtures, 'sops_functional_tests_key.asc'), file);
  chmodSync(file, 0o600);
  return readDecryptionKeys([file], true);
}

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

async function refusal(name: string, bytes: Uint8Array, keys: DecryptionKeys | null): Promise<string> {
  const err = await openSopsFile(name, bytes, keys).then(
    () => assert.fail(`${name} was accepted`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SopsError, String(err));
  assert.equal(err.file, name);
  return err.message;
}

test('files the sops tool wrote decrypt with its test key, in every store, and their MAC verifies', async () => {
  const keys = await sopsTestKey();
  const cases: [string, string][] = [
    ['format.enc.yaml', 'foo: bar\n'],
    ['format.enc.json', '{\n    "foo": "bar"\n}\n'],
    ['comments.enc.yaml', 'lorem: ipsum\ndolor: sit\n'],
    ['multiple_keys.yaml', 'message: hello\n'],
  ];
  for (const [name, plain] of cases) {
    const r = await openSopsFile(name, fixture(name), keys);
    assert.equal(r.kind, 'decrypted', name);
    assert.equal(text(r.kind === 'decrypted' ? r.bytes : new Uint8Array()), plain, name);
  }
  // sops's dotenv store splits at the first `=` and trims nothing: the key is "foo ".
  const env = await openSopsFile('format.enc.env', fixture('format.enc.env'), keys);
  assert.equal(env.kind === 'decrypted' && text(env.bytes), 'foo = bar\n');
});

test('a plain file is plain, and no key is needed for it', async () => {
  const r = await openSopsFile('app.env', Buffer.from('A=1\nsops=2\n'), NO_KEYS);
  assert.deepEqual(r, { kind: 'plain' });
  // A script that names sops's keys is no SOPS file, though it is no YAML either.
  const script = '#!/bin/sh\n[ "$x" ] && echo "sops: {lastmodified: now}" | grep -q "a: b: c"\n';
  assert.deepEqual(await openSopsFile('check.sh', Buffer.from(script), NO_KEYS), { kind: 'plain' });
});

test('tampered value or MAC, a value moved, a changed clear value and no MAC are refused', async () => {
  const keys = await sopsTestKey();
  const yaml = fixture('format.enc.yaml').toString();
  const value = /data:([^,]+),/.exec(yaml)![1]!;
  const flipped = (value[0] === 'A' ? 'B' : 'A') + value.slice(1);
  assert.match(await refusal('a.yaml', Buffer.from(yaml.replace(value, flipped)), keys), /does not decrypt/);
  const mac = /mac: ENC\[AES256_GCM,data:([^,]+),/.exec(yaml)![1]!;
  const badMac = yaml.replace(mac, (mac[0] === 'A' ? 'B' : 'A') + mac.slice(1));
  assert.match(await refusal('b.yaml', Buffer.from(badMac), keys), /MAC does not decrypt/);
  const moved = yaml.replace(/^foo:/m, 'other:');
  assert.match(await refusal('c.yaml', Buffer.from(moved), keys), /does not decrypt/);
  // A value the file leaves in clear (its key ends in _unencrypted) is still covered by the MAC.
  const added = yaml.replace(/^sops:/m, 'note_unencrypted: added later\nsops:');
  assert.match(await refusal('d.yaml', Buffer.from(added), keys), /MAC mismatch/);
  const time = yaml.replace(/lastmodified: "([^"]+)"/, 'lastmodified: "2020-01-01T00:00:00Z"');
  assert.match(await refusal('e.yaml', Buffer.from(time), keys), /MAC does not decrypt/);
  assert.match(await refusal('no_mac.yaml', fixture('no_mac.yaml'), keys), /has no MAC/);
});

test('a file no key of the gateway opens names its recipients and the keys held; no key at all says so', async () => {
  const other = ageKeygen();
  const keys = await readDecryptionKeys([other.file], true);
  const msg = await refusal('format.enc.yaml', fixture('format.enc.yaml'), keys);
  assert.match(msg, /format\.enc\.yaml is SOPS-encrypted/);
  assert.match(msg, /OpenPGP FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4/);
  assert.ok(msg.includes(`age ${other.recipient}`), msg);
  assert.match(await refusal('x.yaml', fixture('format.enc.yaml'), NO_KEYS), /no decryption key is configured/);
});

test('without a key (null) the structure is checked and the values are stand-ins, with a note', async () => {
  const r = await openSopsFile('format.enc.yaml', fixture('format.enc.yaml'), null);
  assert.equal(r.kind, 'unchecked');
  assert.equal(r.kind === 'unchecked' && text(r.bytes), `foo: ${UNCHECKED_VALUE}\n`);
  assert.match(r.kind === 'unchecked' ? r.note : '', /values and MAC were not checked/);
  const broken = fixture('format.enc.yaml')
    .toString()
    .replace(/^foo: ENC\[[^\n]+/m, 'foo: plain text');
  assert.match(await refusal('y.yaml', Buffer.from(broken), null), /should be encrypted and is not/);
  assert.match(
    await refusal('z.json', Buffer.from('{"a": "ENC[AES256_GCM,data:", "sops": {"lastmodified": '), null),
    /not valid JSON/,
  );
});

test('age: a data key the age CLI wrapped opens yaml, dotenv and binary; each gateway its own key', async () => {
  const siteA = ageKeygen();
  const siteB = ageKeygen();
  const forA = await readDecryptionKeys([siteA.file], true);
  const forB = await readDecryptionKeys([siteB.file], true);
  const both = sopsEncrypt('yaml', { token: 'a-token-for-both' }, [siteA.recipient, siteB.recipient]);
  for (const keys of [forA, forB]) {
    const r = await openSopsFile('shared.yaml', Buffer.from(both), keys);
    assert.equal(r.kind === 'decrypted' && text(r.bytes), 'token: a-token-for-both\n');
  }
  const onlyA = sopsEncrypt('dotenv', { DB_PASSWORD: 'site-a-password', EMPTY: '' }, [siteA.recipient]);
  const env = await openSopsFile('site-a.env', Buffer.from(onlyA), forA);
  assert.equal(env.kind === 'decrypted' && text(env.bytes), 'DB_PASSWORD=site-a-password\nEMPTY=\n');
  assert.match(
    await refusal('site-a.env', Buffer.from(onlyA), forB),
    new RegExp(`encrypted for age ${siteA.recipient}`),
  );
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB-not-really\n-----END CERTIFICATE-----\n';
  const bin = await openSopsFile(
    'tls/cert.pem',
    Buffer.from(sopsEncrypt('binary', { data: pem }, [siteA.recipient])),
    forA,
  );
  assert.equal(bin.kind === 'decrypted' && bin.store, 'binary');
  assert.equal(bin.kind === 'decrypted' && text(bin.bytes), pem);
});

test('decrypted values become secrets of the process: scrubbed from whatever it writes', async () => {
  const key = ageKeygen();
  const keys = await readDecryptionKeys([key.file], true);
  const plaintext = 'scrub-me-' + Date.now().toString(36);
  await openSopsFile('s.env', Buffer.from(sopsEncrypt('dotenv', { S: plaintext }, [key.recipient])), keys);
  assert.equal(processSecrets.scrub(`leaked ${plaintext} here`), 'leaked [redacted] here');
  // The identity itself too.
  const identity = readFileSync(key.file, 'utf8').match(/AGE-SECRET-KEY-1\w+/)![0];
  assert.ok(!processSecrets.scrub(identity).includes(identity));
});

test('key files: readable by others, not a key, and a missing file are refused', async () => {
  const dir = tmp();
  const key = ageKeygen();
  const open = join(dir, 'open.txt');
  copyFileSync(key.file, open);
  chmodSync(open, 0o644);
  await assert.rejects(readDecryptionKeys([open], true), /may be read by others than its owner \(mode 644\)/);
  assert.equal((await readDecryptionKeys([open], false)).age.length, 1, 'the CLI may read a key its CI wrote 0644');
  const junk = join(dir, 'junk.txt');
  writeFileSync(junk, 'hello\n', { mode: 0o600 });
  await assert.rejects(readDecryptionKeys([junk], true), /holds neither an age identity .* nor an armored OpenPGP/);
  await assert.rejects(readDecryptionKeys([join(dir, 'missing')], true), /missing: ENOENT/);
});
