// The hub reading a fleet repo at a local path (--repo, no promoter): the rollout the branch holds,
// with the subject of its base and target and the verified signer of each step; an admin gets no
// buttons and a form post is refused (nothing written), since the hub holds no signing key;
// `rollgate fleet rollout` shows the same view; a hub without --repo says how to give it, and has no
// rollouts API (nor documents one).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { csrfToken } from '../../src/hub/rollout-actions.js';
import { rollgate } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { call, hubDatabases, lab, type Lab } from '../helpers/hub.js';
import { gitIn, Keyring } from '../helpers/signing.js';

const root = tempDir('rollgate-hub-repo-');
const dbs = await hubDatabases();
const labs: Lab[] = [];
after(async () => {
  for (const l of labs) await l.hub.stop();
  await dbs.stop();
  execFileSync('gpgconf', ['--kill', 'gpg-agent'], { env: keyring.env });
});

const keyring = new Keyring(join(root, 'keys'));
const key = keyring.gpgKey('Release Manager');
const secret = join(root, 'release.secret.asc');
writeFileSync(
  secret,
  execFileSync('gpg', ['--batch', '--armor', '--export-secret-keys', key.fingerprint], { env: keyring.env }),
);
const repo = join(root, 'repo');
mkdirSync(repo);
const git = gitIn(repo, keyring);
git('init', '-q', '-b', 'main');

function fleetFile(version: string): void {
  writeFileSync(
    join(repo, 'manifest.yaml'),
    `api_version: mender/v1\nkind: update_manifest\nversion: ${version}\ncomponent_types: {}\ncomponents: []\n`,
  );
  writeFileSync(
    join(repo, 'rollgate.yaml'),
    'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  edge:\n    manifest: manifest.yaml\ntargets:\n' +
      '  - name: all\n    match: { ids: [gw-1] }\n    system: edge\n' +
      'rollout:\n  gate: { success_percent: 100, soak: 1m, ' +
      'timeout: 1h }\n  waves:\n    - { name: canary, match: { labels: { ring: canary } } }\n' +
      '    - { name: everyone, percent: 100 }\n',
  );
}

function commit(subject: string): string {
  git('add', '-A');
  git(
    '-c',
    'user.name=Release Manager',
    '-c',
    'user.email=rm@example.com',
    ...key.gitConfig,
    'commit',
    '-q',
    '-S',
    '-m',
    subject,
  );
  return git('rev-parse', 'HEAD');
}

test('a local fleet repo: the rollout, subjects, signers; no promoter, no buttons, posts refused', async () => {
  fleetFile('v1');
  const v1 = commit('edge v1');
  fleetFile('v2');
  const v2 = commit('edge v2: the new radio driver');
  const start = await rollgate(
    'rollout',
    'start',
    '--repo',
    repo,
    '--ref',
    'main',
    '--signing-key',
    secret,
    '--target',
    v2,
    '--base',
    v1,
    '--id',
    'radio',
    '--by',
    'alice@example.com',
    '--why',
    'radio driver',
  );
  assert.equal(start.code, 0, start.out + start.err);
  const head = git('rev-parse', 'HEAD');

  const l = await lab(
    dbs.kinds[0]!,
    { 'gw-1': { ring: 'canary' } },
    {
      repo: { repo, ref: 'main', trustedKeys: [key.publicFile], intervalMs: 3_600_000 },
    },
  );
  labs.push(l);
  await l.hub.fleetRepo!.refresh();
  const list = await l.get('/api/v1/rollouts');
  assert.equal(list.status, 200, list.text);
  assert.equal((list.body['repo'] as { head: string }).head, head);
  assert.deepEqual(
    (list.body['rollouts'] as { id: string; state: string; current: boolean }[]).map((r) => [r.id, r.state, r.current]),
    [['radio', 'rolling', true]],
  );
  const view = await l.get('/api/v1/rollouts/radio');
  assert.equal(view.status, 200, view.text);
  assert.equal(view.body['targetSubject'], 'edge v2: the new radio driver');
  assert.equal(view.body['baseSubject'], 'edge v1');
  const steps = view.body['steps'] as { by: string; commit?: string; signer?: string }[];
  assert.equal(steps[0]!.by, 'alice@example.com');
  assert.equal(steps[0]!.commit, head, 'the step carries the commit that wrote it');
  assert.match(steps[0]!.signer ?? '', /^Release Manager <release-manager@example\.com> \(OpenPGP/);
  assert.match(String(view.body['why']), /wave "canary" waits/);
  assert.equal((await l.get('/api/v1/rollouts/nope')).status, 404);

  // An admin on a hub with no promoter: no buttons, and a well-formed post is refused.
  const page = await call(l.url, 'GET', '/rollouts/radio', { token: l.admin });
  assert.equal(page.status, 200);
  assert.doesNotMatch(page.text, /<form method="post" action="\/rollouts/);
  assert.match(page.text, /This hub has no promoter/);
  const res = await fetch(`${l.url}/rollouts/radio/abort`, {
    method: 'POST',
    headers: { cookie: `rollgate_hub=${l.admin}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf: csrfToken(l.admin), why: 'stop it' }).toString(),
  });
  assert.equal(res.status, 403);
  assert.match(await res.text(), /no promoter/);
  assert.equal(git('rev-parse', 'HEAD'), head, 'nothing was written');

  // The same view in a terminal.
  const tokenFile = join(root, 'reader.token');
  writeFileSync(tokenFile, l.reader + '\n');
  const cli = await rollgate('fleet', 'rollout', 'radio', '--hub', l.url, '--token-file', tokenFile);
  assert.equal(cli.code, 0, cli.err);
  assert.match(cli.out, /^rollout radio \(rolling\)$/m);
  assert.match(cli.out, /target \w{12} edge v2: the new radio driver/);
  assert.match(cli.out, /1 canary +open +in wave 1, admitted 1/);
  assert.match(cli.out, /start by alice@example\.com: radio driver/);
  const all = await rollgate('fleet', 'rollout', '--hub', l.url, '--token-file', tokenFile);
  assert.match(all.out, /^radio {2}rolling {2}\w{12} -> \w{12} {2}1 step\(s\) {2}\(at the head\)$/m);
});

test('a hub without --repo says how to give it', async () => {
  const l = await lab(dbs.kinds[0]!, {});
  labs.push(l);
  const page = await call(l.url, 'GET', '/rollouts', { token: l.reader });
  assert.equal(page.status, 200);
  assert.match(page.text, /start it with <code>--repo<\/code>/);
  const api = await l.get('/api/v1/rollouts');
  assert.equal(api.status, 404, 'a hub that reads no repo has no rollouts API');
});
