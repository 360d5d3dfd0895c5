// `rollgate validate`, `diff` and `apply` with SOPS-encrypted files in the fleet repo, the CLI as a
// process: --decryption-key (repeatable) decrypts and checks; without one, validate and diff check
// the structure and say what they could not check, and apply refuses. Two sites, each with its own
// age key (made by age-keygen): the fleet repo's CI holds both, a gateway only its own.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { rollgate } from '../helpers/cli.js';
import { ageKeygen, sopsEncrypt } from '../helpers/sops-writer.js';
import { tempDirs } from '../helpers/temp-dirs.js';

const tmp = tempDirs('rollgate-cli-sops-');
const siteA = ageKeygen();
const siteB = ageKeygen();
const PLAIN_A = 'SiteA-Token-Plain-7731';
const PLAIN_B = 'SiteB-Token-Plain-2264';

/** Targets site-a and site-b, each an app whose env_file is encrypted for that site's key. */
function fleetRepo(): string {
  const dir = tmp();
  const app = (site: string, recipient: string, token: string) => {
    mkdirSync(join(dir, site), { recursive: true });
    writeFileSync(
      join(dir, site, 'compose.yaml'),
      'services:\n  web:\n    image: busybox:latest\n    env_file: secrets.env\n',
    );
    writeFileSync(join(dir, site, 'secrets.env'), sopsEncrypt('dotenv', { TOKEN: token }, [recipient]));
  };
  app('site-a', siteA.recipient, PLAIN_A);
  app('site-b', siteB.recipient, PLAIN_B);
  writeFileSync(
    join(dir, 'rollgate.yaml'),
    'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  a:\n    apps:\n      web: site-a/compose.yaml\n' +
      '  b:\n    apps:\n      web: site-b/compose.yaml\ntargets:\n' +
      '  - name: site-a\n    match: { labels: { site: a } }\n    system: a\n' +
      '  - name: site-b\n    match: { labels: { site: b } }\n    system: b\n',
  );
  return dir;
}

const noPlaintext = (text: string) => {
  for (const v of [PLAIN_A, PLAIN_B]) assert.ok(!text.includes(v), `${v} is printed:\n${text}`);
};

test('validate with every site’s key decrypts every file; without a key it says what it did not check', async () => {
  const repo = fleetRepo();
  const both = await rollgate(
    'validate',
    '--repo',
    repo,
    '--decryption-key',
    siteA.file,
    '--decryption-key',
    siteB.file,
  );
  assert.equal(both.code, 0, both.err);
  assert.match(both.out, /OK: 2 targets valid/);
  assert.doesNotMatch(both.err, /not checked/);
  noPlaintext(both.out + both.err);
  const none = await rollgate('validate', '--repo', repo, '--output', 'json');
  assert.equal(none.code, 0, none.err);
  const report = JSON.parse(none.out) as { ok: boolean; unchecked: string[] };
  assert.deepEqual(report.unchecked.sort(), [
    'site-a/secrets.env is SOPS-encrypted; without a decryption key its values and MAC were not checked',
    'site-b/secrets.env is SOPS-encrypted; without a decryption key its values and MAC were not checked',
  ]);
  assert.match(none.err, /warning: site-a\/secrets\.env is SOPS-encrypted; without a decryption key/);
});

test('validate with one site’s key fails on the other site’s file, naming it and the recipient', async () => {
  const r = await rollgate('validate', '--repo', fleetRepo(), '--decryption-key', siteA.file);
  assert.equal(r.code, 1);
  assert.match(r.err, /site-b\/secrets\.env is SOPS-encrypted, and no key this gateway holds opens it/);
  assert.ok(r.err.includes(`age ${siteB.recipient}`), r.err);
  assert.doesNotMatch(r.err, /site-a\/secrets\.env/);
  noPlaintext(r.out + r.err);
});

test('an optional env_file that does not decrypt is a problem, not a file passed by', async () => {
  const repo = fleetRepo();
  writeFileSync(
    join(repo, 'site-a', 'compose.yaml'),
    'services:\n  web:\n    image: busybox:latest\n    env_file: [{ path: secrets.env, required: false }]\n',
  );
  const r = await rollgate('validate', '--repo', repo, '--decryption-key', siteB.file);
  assert.equal(r.code, 1);
  assert.match(r.err, /site-a\/secrets\.env is SOPS-encrypted, and no key this gateway holds opens it/);
});

test('a changed value or MAC fails validate with the key, and passes the structure check without it', async () => {
  const repo = fleetRepo();
  const file = join(repo, 'site-a', 'secrets.env');
  const text = sopsEncrypt('dotenv', { TOKEN: PLAIN_A }, [siteA.recipient]);
  writeFileSync(
    file,
    text.replace(/^sops_mac=ENC\[AES256_GCM,data:(.)/m, (m, c: string) => m.slice(0, -1) + (c === 'A' ? 'B' : 'A')),
  );
  const r = await rollgate('validate', '--repo', repo, '--decryption-key', siteA.file, '--decryption-key', siteB.file);
  assert.equal(r.code, 1);
  assert.match(r.err, /site-a\/secrets\.env is SOPS-encrypted, and its MAC does not decrypt/);
  assert.equal((await rollgate('validate', '--repo', repo)).code, 0);
  writeFileSync(file, text.replace(/^TOKEN=ENC\[[^\n]+/m, 'TOKEN=in clear'));
  const clear = await rollgate('validate', '--repo', repo);
  assert.equal(clear.code, 1);
  assert.match(clear.err, /site-a\/secrets\.env .*should be encrypted and is not/);
});

test('diff on a gateway with its own key; apply without a key refuses the encrypted file', async () => {
  const repo = fleetRepo();
  const diff = await rollgate(
    'diff',
    '--repo',
    repo,
    '--id',
    'gw-a',
    '--label',
    'site=a',
    '--decryption-key',
    siteA.file,
  );
  assert.equal(diff.code, 2, diff.err);
  noPlaintext(diff.out + diff.err);
  const wrong = await rollgate(
    'diff',
    '--repo',
    repo,
    '--id',
    'gw-b',
    '--label',
    'site=b',
    '--decryption-key',
    siteA.file,
  );
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /site-b\/secrets\.env is SOPS-encrypted, and no key/);
  const apply = await rollgate('apply', '--repo', repo, '--id', 'gw-a', '--label', 'site=a', '--state-dir', tmp());
  assert.equal(apply.code, 1);
  assert.match(apply.err, /site-a\/secrets\.env is SOPS-encrypted, and no key .* no decryption key is configured/);
});
