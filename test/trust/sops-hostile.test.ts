// SOPS files written by someone who can commit to the fleet repo and wants the gateway to hang:
// metadata is not covered by the MAC and is read before any key opens the file, so what the
// metadata says must cost the agent (and `rollgate validate`, which has no key) no more than its
// size. A regex rule that backtracks exponentially and a dotenv list index of four billion are
// each answered at once: the first with the rule applied in linear time (Go's RE2, as sops reads
// it), the second refused. (A regression blocks the event loop, so no test timeout can end it:
// these tests then hang for minutes to days, which the run's own limit turns into a failure.)

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';
import { openSopsFile, readDecryptionKeys, SopsError } from '../../src/trust/index.js';
import { compileSopsRegex, SopsRegexError } from '../../src/trust/sops/regex.js';
import { projectRoot } from '../helpers/fixtures.js';
import { ageKeygen, sopsEncrypt } from '../helpers/sops-writer.js';

/** `yaml` (a SOPS file) with its metadata changed by `edit`. */
function withMetadata(yaml: string, edit: (sops: Record<string, unknown>) => void): string {
  const doc = parse(yaml) as Record<string, unknown> & { sops: Record<string, unknown> };
  edit(doc.sops);
  return stringify(doc);
}

async function refusal(name: string, text: string, keys: Parameters<typeof openSopsFile>[2]): Promise<string> {
  const err = await openSopsFile(name, Buffer.from(text), keys).then(
    () => assert.fail(`${name} was accepted`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SopsError, String(err));
  return err.message;
}

test('an encrypted_regex that backtracks exponentially is matched in linear time, with and without a key', async () => {
  const gw = ageKeygen();
  const keys = await readDecryptionKeys([gw.file], true);
  const evil = 'a'.repeat(40) + '!';
  // A value under a key the evil pattern would take 2^40 steps to refuse.
  const file = withMetadata(sopsEncrypt('yaml', { [evil]: 'site-password' }, [gw.recipient]), (m) => {
    m['encrypted_regex'] = '^(a+)+$';
  });
  // No key (validate in the fleet repo's CI): the rule says the value is clear, so it is left as written.
  const unchecked = await openSopsFile('app/evil.yaml', Buffer.from(file), null);
  assert.equal(unchecked.kind, 'unchecked');
  // With the gateway's key: the value is not where the rule says, so the MAC does not hold.
  assert.match(await refusal('app/evil.yaml', file, keys), /MAC mismatch/);
});

test('a regex rule still selects what sops selects: the encrypted keys decrypt, the others stay clear', async () => {
  const gw = ageKeygen();
  const keys = await readDecryptionKeys([gw.file], true);
  // Every value is encrypted by the writer; a regex that names them all is a file sops could write.
  const file = withMetadata(
    sopsEncrypt('yaml', { password: 'p4ssw0rd-site', token: 't0ken-site' }, [gw.recipient]),
    (m) => {
      m['encrypted_regex'] = '^(pass(word)?|tok[a-z]n)$';
      delete m['unencrypted_suffix'];
    },
  );
  const r = await openSopsFile('app/ok.yaml', Buffer.from(file), keys);
  assert.equal(
    r.kind === 'decrypted' && Buffer.from(r.bytes).toString(),
    'password: p4ssw0rd-site\ntoken: t0ken-site\n',
  );
  // One that leaves `token` out calls its ciphertext clear text: the MAC refuses the file.
  const partial = withMetadata(file, (m) => {
    m['encrypted_regex'] = '^password$';
  });
  assert.match(await refusal('app/partial.yaml', partial, keys), /MAC mismatch/);
});

test('regex syntax RE2 has not, or too big an automaton, is refused naming the rule', async () => {
  for (const [pattern, said] of [
    ['(a)\\1', /escape \\1/],
    ['(?=secret)', /lookaround/],
    ['(?i)secret', /flags/],
    ['a{1001}', /repeat count/],
    ['(a{1000}){3}', /more than 2000 states/],
    ['[z-a]', /range z-a/],
    ['x'.repeat(600), /longer than 512/],
  ] as const) {
    assert.throws(
      () => compileSopsRegex(pattern),
      (e: unknown) => e instanceof SopsRegexError && said.test(e.message),
      pattern,
    );
    const file = withMetadata(sopsEncrypt('yaml', { a: 'value-a' }, [ageKeygen().recipient]), (m) => {
      m['unencrypted_regex'] = pattern;
    });
    assert.match(
      await refusal('app/r.yaml', file, null),
      /unencrypted_regex is not a regular expression rollgate can read/,
    );
  }
});

test('the regex rules match as Go does: anywhere unless anchored, ASCII classes, no newline for .', () => {
  const cases: [string, string, boolean][] = [
    ['^(data|stringData)$', 'stringData', true],
    ['^(data|stringData)$', 'metadata', false],
    ['data', 'metadata', true],
    ['_secret$', 'db_secret', true],
    ['_secret$', 'db_secret_x', false],
    ['^pass(word)?$', 'pass', true],
    ['^pass(word)?$', 'passwor', false],
    ['^[a-z_]+\\d{2,3}$', 'key_12', true],
    ['^[a-z_]+\\d{2,3}$', 'key_1234', false],
    ['^[^.]+$', 'a.b', false],
    ['^\\w+$', 'schlüssel', false],
    ['^a.c$', 'a\nc', false],
    ['^(a|ab)(c|bcd)(d*)$', 'abcd', true],
    ['^(a+)+$', 'a'.repeat(5000) + '!', false],
    ['x*', '', true],
    ['[\\]a-]', ']', true],
    ['[\\]a-]', '-', true],
    ['a.+?z', 'a--z', true],
  ];
  for (const [pattern, text, want] of cases)
    assert.equal(compileSopsRegex(pattern).test(text), want, `${pattern} ~ ${text}`);
});

test('a dotenv list index past the metadata is refused at once; sops’s own order (10 before 2) opens', async () => {
  const gw = ageKeygen();
  const keys = await readDecryptionKeys([gw.file], true);
  const env = sopsEncrypt('dotenv', { DB_PASSWORD: 'site-a-password' }, [gw.recipient]);
  for (const index of ['4294967294', '99999', '1e9', '-1', '01']) {
    const evil = env + `sops_age__list_${index}__map_recipient=age1nobody\n`;
    assert.match(await refusal('app/s.env', evil, keys), /list index|names item/, index);
  }
  // Eleven recipients, the lines sorted as text the way sops writes them: item 10 comes before item 2.
  const others = Array.from({ length: 10 }, () => ageKeygen().recipient);
  const many = sopsEncrypt('dotenv', { DB_PASSWORD: 'site-a-password' }, [...others, gw.recipient]);
  const sorted = many.trimEnd().split('\n').sort().join('\n') + '\n';
  assert.ok(sorted.indexOf('__list_10__') < sorted.indexOf('__list_2__'), 'the fixture is in sops’s order');
  const r = await openSopsFile('app/s.env', Buffer.from(sorted), keys);
  assert.equal(r.kind === 'decrypted' && Buffer.from(r.bytes).toString(), 'DB_PASSWORD=site-a-password\n');
});

/** sops's functional-test OpenPGP key: its secret in a gpg home of its own, and as a gateway's key file. */
function sopsTestGpg(): { home: string; keyFile: string; fingerprint: string } {
  const home = mkdtempSync(join(tmpdir(), 'rollgate-sops-gpg-'));
  chmodSync(home, 0o700);
  const asc = join(projectRoot, 'test', 'fixtures', 'sops', 'sops_functional_tests_key.asc');
  execFileSync('gpg', ['--batch', '--import', asc], { env: { ...process.env, GNUPGHOME: home }, stdio: 'ignore' });
  const keyFile = join(home, 'gateway.asc');
  copyFileSync(asc, keyFile);
  chmodSync(keyFile, 0o600);
  return { home, keyFile, fingerprint: 'FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4' };
}

test('an OpenPGP data key that inflates to 64 MB (gpg compresses) is refused before it is inflated', async () => {
  const gpg = sopsTestGpg();
  const keys = await readDecryptionKeys([gpg.keyFile], true);
  // 64 MiB of zeros, compressed and encrypted by gpg to the gateway's key: about 70 kB of armor.
  const bomb = execFileSync(
    'gpg',
    ['--batch', '--trust-model', 'always', '-e', '-r', gpg.fingerprint, '--compress-algo', 'zlib', '-z', '9', '-a'],
    { env: { ...process.env, GNUPGHOME: gpg.home }, input: Buffer.alloc(64 * 1024 * 1024), encoding: 'utf8' },
  );
  assert.ok(bomb.length < 200_000, `the armored message is ${bomb.length} characters`);
  const file = withMetadata(sopsEncrypt('yaml', { token: 'whatever-it-is' }, [ageKeygen().recipient]), (m) => {
    m['age'] = [];
    m['pgp'] = [{ fp: gpg.fingerprint, enc: bomb, created_at: '2026-11-30T10:00:00Z' }];
  });
  assert.match(await refusal('app/bomb.yaml', file, keys), /its data key is more than 1024 bytes, not 32/);
  // A data key gpg wrapped as sops does (compressed too) still opens: the fixture files sops wrote.
  const real = readFileSync(join(projectRoot, 'test', 'fixtures', 'sops', 'format.enc.yaml'));
  assert.equal((await openSopsFile('format.enc.yaml', real, keys)).kind, 'decrypted');
});

test('a file naming more than 1000 recipients is refused before any is tried', async () => {
  const gw = ageKeygen();
  const keys = await readDecryptionKeys([gw.file], true);
  const file = withMetadata(sopsEncrypt('yaml', { token: 'whatever-it-is' }, [gw.recipient]), (m) => {
    const one = (m['age'] as unknown[])[0];
    m['age'] = Array.from({ length: 1001 }, () => ({ ...(one as object) }));
  });
  assert.match(
    await refusal('app/many.yaml', file, keys),
    /names 1001 recipients; rollgate opens files of at most 1000/,
  );
});
