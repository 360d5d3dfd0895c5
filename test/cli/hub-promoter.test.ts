// `rollgate hub`'s promoter settings: the --promote-* flags over `promoter:` of hub.yaml, the key read
// once (a real gpg key, exported armored), and what does not make sense refused at start, saying why.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { promoterSettings } from '../../src/cli/hub-promoter.js';
import { tempDir } from '../helpers/fixtures.js';
import { Keyring } from '../helpers/signing.js';

describe('the hub promoter settings', () => {
  const dir = tempDir();
  const keyFile = join(dir, 'promoter.key');
  before(() => {
    const ring = new Keyring(join(dir, 'keys'));
    const key = ring.gpgKey('Promoter');
    const args = ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--armor', '--export-secret-keys'];
    writeFileSync(keyFile, execFileSync('gpg', [...args, key.fingerprint], { env: ring.env }));
  });

  test('no repo: no promoter', async () => {
    assert.equal(await promoterSettings({}, { by: 'x' }), undefined);
  });

  test('the file alone, with its defaults', async () => {
    const s = await promoterSettings({}, { repo: 'https://git.example.com/fleet.git', signingKey: keyFile });
    assert.deepEqual(s?.repo, { repo: 'https://git.example.com/fleet.git', ref: 'main' });
    assert.equal(s?.intervalMs, 60_000);
    assert.match(s!.by, /^promoter@/);
    assert.equal(s?.signer.email, 'promoter@example.com');
  });

  test('flags win over the file', async () => {
    const s = await promoterSettings(
      {
        promoteRepo: 'https://git.example.com/other.git',
        promoteRef: 'fleet',
        promoteBy: 'promoter@hub-1',
        promoteInterval: '30s',
        promoteAuthTokenFile: '/etc/rollgate/git-token',
      },
      { repo: 'https://git.example.com/fleet.git', ref: 'main', by: 'x', interval: '5m', signingKey: keyFile },
    );
    assert.deepEqual(s?.repo, {
      repo: 'https://git.example.com/other.git',
      ref: 'fleet',
      auth: { kind: 'token', file: '/etc/rollgate/git-token' },
    });
    assert.deepEqual([s?.by, s?.intervalMs], ['promoter@hub-1', 30_000]);
  });

  for (const [name, flags, file, message] of [
    ['no key', { promoteRepo: 'https://g/f.git' }, {}, /the promoter signs each step: give --promote-signing-key/],
    [
      'two kinds of git credentials',
      { promoteAuthTokenFile: 't', promoteAuthBasicFile: 'b' },
      { repo: 'https://g/f.git', signingKey: keyFile },
      /give one of --promote-auth-token-file and --promote-auth-basic-file/,
    ],
    [
      'credentials for a local repository',
      { promoteAuthTokenFile: 't' },
      { repo: '/srv/fleet.git', signingKey: keyFile },
      /are for a repository at a URL/,
    ],
    ['a key that is not there', {}, { repo: '/srv/fleet.git', signingKey: join(dir, 'none') }, /does not exist/],
    ['an interval that is not one', { promoteInterval: 'soon' }, { repo: '/srv/f.git', signingKey: keyFile }, /soon/],
  ] as const)
    test(`refused: ${name}`, async () => {
      await assert.rejects(promoterSettings(flags, file), message);
    });
});
