// What `rollgate hub` reads of the fleet repo: --repo and --repo-* flags over `repo:` of hub.yaml, over
// the promoter's own repository and credentials; what does not make sense refused, naming the file and key.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { repoSettings } from '../../src/cli/hub-repo.js';
import { readHubConfig } from '../../src/hub/index.js';
import type { PromoterSettings } from '../../src/hub/index.js';
import { tempDir } from '../helpers/fixtures.js';

describe("the hub's fleet repo settings", () => {
  const dir = tempDir();
  const config = async (yaml: string) => {
    const file = join(dir, `hub-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, yaml);
    return readHubConfig(file);
  };
  const promoter = {
    repo: { repo: 'https://git.example.com/fleet.git', ref: 'fleet', auth: { kind: 'token', file: '/run/git-token' } },
  } as unknown as PromoterSettings;

  test('repo: in hub.yaml alone, with its defaults', async () => {
    const file = await config(
      'repo:\n  url: https://git.example.com/fleet.git\n  trustedKeys: [/etc/rollgate/k.asc]\n',
    );
    assert.deepEqual(repoSettings({}, undefined, file.repo), {
      repo: 'https://git.example.com/fleet.git',
      ref: 'main',
      trustedKeys: ['/etc/rollgate/k.asc'],
      intervalMs: 30_000,
    });
  });

  test('flags win over the file; the file over the promoter', async () => {
    const file = await config(
      'repo:\n  url: https://git.example.com/fleet.git\n  ref: release\n  interval: 2m\n  authBasicFile: /etc/b\n',
    );
    const fromFile = repoSettings({}, promoter, file.repo)!;
    assert.deepEqual(
      [fromFile.ref, fromFile.intervalMs, fromFile.auth],
      ['release', 120_000, { kind: 'basic', file: '/etc/b' }],
    );
    const flags = repoSettings(
      { repo: 'https://git.example.com/other.git', repoRef: 'main', repoInterval: '10s', repoAuthTokenFile: '/etc/t' },
      promoter,
      file.repo,
    )!;
    assert.deepEqual(
      [flags.repo, flags.ref, flags.intervalMs, flags.auth],
      ['https://git.example.com/other.git', 'main', 10_000, { kind: 'token', file: '/etc/t' }],
    );
    const promoterOnly = repoSettings({}, promoter)!;
    assert.deepEqual(
      [promoterOnly.repo, promoterOnly.ref, promoterOnly.auth?.kind],
      [promoter.repo.repo, 'fleet', 'token'],
    );
    assert.equal(repoSettings({}, undefined), undefined, 'nothing names a repo: the pages read none');
  });

  for (const [name, yaml, message] of [
    ['not a map', 'repo: https://git.example.com/fleet.git\n', /repo must be a map \(url, ref/],
    ['no url', 'repo:\n  ref: main\n', /repo\.url names the fleet repo/],
    ['an unknown key', 'repo:\n  url: /srv/fleet\n  branch: main\n', /unknown key "repo\.branch"/],
    [
      'keys not a list',
      'repo:\n  url: /srv/fleet\n  trustedKeys: /etc/k.asc\n',
      /repo\.trustedKeys must be a list of paths/,
    ],
    ['a number', 'repo:\n  url: /srv/fleet\n  interval: 30\n', /repo\.interval must be a string/],
  ] as const)
    test(`hub.yaml: ${name} is refused, naming the file and key`, async () => {
      await assert.rejects(config(yaml), (err: Error) => {
        assert.match(err.message, /hub-[a-z0-9]+\.yaml/);
        assert.match(err.message, message);
        return true;
      });
    });

  test('a bad interval or credentials for a local path are refused', async () => {
    const file = await config('repo:\n  url: /srv/fleet\n  interval: soon\n');
    assert.throws(() => repoSettings({}, undefined, file.repo), /repo\.interval: "soon" is not a duration/);
    assert.throws(
      () => repoSettings({ repoAuthTokenFile: '/etc/t' }, undefined, { url: '/srv/fleet' }),
      /are for a repository at a URL/,
    );
  });
});
