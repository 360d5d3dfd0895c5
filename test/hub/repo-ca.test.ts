// The hub reading its fleet repo from a git server over https whose certificate a private CA signed
// (a CA made here with openssl): read with --repo-ca-file / repo.caFile, refused with a clear error
// without it, and the file's CAs added to the defaults (NODE_EXTRA_CA_CERTS still trusted beside it),
// never put in their place. A CA file that cannot be read, or holds no certificate, stops the start.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { silentLog } from '../../src/base/log.js';
import { repoSettings } from '../../src/cli/hub-repo.js';
import { FleetRepoReader } from '../../src/hub/fleet-repo.js';
import { readHubConfig } from '../../src/hub/index.js';
import { exampleBareRepo, tempDir } from '../helpers/fixtures.js';
import { startGitServer } from '../helpers/git-server.js';
import { hubDatabases, lab, type Lab } from '../helpers/hub.js';
import { privateCa } from '../helpers/tls.js';

const root = tempDir('rollgate-hub-repo-ca-');
const { commits } = exampleBareRepo(root);
const head = commits[commits.length - 1]!;
const ours = privateCa(root, 'fleet-ca');
const other = privateCa(root, 'other-ca');
const server = await startGitServer(root, 0, { tls: ours.server });
const url = server.url('fleet.git');
const dbs = await hubDatabases();
const labs: Lab[] = [];
after(async () => {
  for (const l of labs) await l.hub.stop();
  await dbs.stop();
  await server.close();
});

async function readOnce(caFile?: string): Promise<ReturnType<FleetRepoReader['read']>> {
  const reader = new FleetRepoReader(
    { repo: url, ref: 'main', intervalMs: 3_600_000, ...(caFile ? { caFile } : {}) },
    silentLog,
  );
  try {
    await reader.refresh();
    return reader.read();
  } finally {
    await reader.stop();
  }
}

test("with the CA's certificate, the repo is read over https", async () => {
  const read = await readOnce(ours.caCrt);
  assert.equal(read.failed, undefined, read.failed?.message);
  assert.equal(read.snapshot?.head, head);
});

test('without it, a clear error that says what to give; nothing read', async () => {
  const read = await readOnce();
  assert.equal(read.snapshot, undefined);
  assert.match(read.failed?.message ?? '', /TLS certificate is signed by no CA this machine trusts/);
  assert.match(read.failed?.message ?? '', /--repo-ca-file/);
  const wrong = await readOnce(other.caCrt);
  assert.equal(wrong.snapshot, undefined);
  assert.match(wrong.failed?.message ?? '', new RegExp(`${other.caCrt} does not hold the CA that signed it`));
});

test("a CA file adds to the defaults: NODE_EXTRA_CA_CERTS's CA still trusted beside another CA's file", async () => {
  const before = process.env['NODE_EXTRA_CA_CERTS'];
  process.env['NODE_EXTRA_CA_CERTS'] = ours.caCrt;
  try {
    const read = await readOnce(other.caCrt);
    assert.equal(read.failed, undefined, read.failed?.message);
    assert.equal(read.snapshot?.head, head);
  } finally {
    if (before === undefined) delete process.env['NODE_EXTRA_CA_CERTS'];
    else process.env['NODE_EXTRA_CA_CERTS'] = before;
  }
});

test('a CA file that cannot be read, or holds no certificate, is refused at once, naming it', () => {
  const missing = join(root, 'no-such-ca.crt');
  assert.throws(
    () => new FleetRepoReader({ repo: url, ref: 'main', caFile: missing }, silentLog),
    (err: Error) => {
      assert.match(err.message, new RegExp(`cannot read the CA file ${missing}: ENOENT`));
      return true;
    },
  );
  const notPem = join(root, 'not-a-ca.crt');
  writeFileSync(notPem, 'hello\n');
  assert.throws(
    () => new FleetRepoReader({ repo: url, ref: 'main', caFile: notPem }, silentLog),
    new RegExp(`the CA file ${notPem} holds no PEM certificate`),
  );
});

test('--repo-ca-file and repo.caFile reach the settings; a CA file for a local path is refused', async () => {
  const file = join(root, 'hub.yaml');
  writeFileSync(file, `repo:\n  url: ${url}\n  caFile: ${ours.caCrt}\n`);
  const config = await readHubConfig(file);
  assert.equal(repoSettings({}, undefined, config.repo)?.caFile, ours.caCrt);
  assert.equal(repoSettings({ repoCaFile: other.caCrt }, undefined, config.repo)?.caFile, other.caCrt, 'flag wins');
  assert.throws(
    () => repoSettings({ repo: join(root, 'fleet.git'), repoCaFile: ours.caCrt }, undefined),
    /--repo-ca-file \(repo\.caFile\) is for a repository at an https URL/,
  );
});

for (const kind of dbs.kinds)
  test(`the hub (${kind.name}) shows the head it read over https with its CA file`, async () => {
    const l = await lab(kind, {}, { repo: { repo: url, ref: 'main', intervalMs: 3_600_000, caFile: ours.caCrt } });
    labs.push(l);
    await l.hub.fleetRepo!.refresh();
    const list = await l.get('/api/v1/rollouts');
    assert.equal(list.status, 200, list.text);
    assert.equal((list.body['repo'] as { head: string }).head, head);
  });
