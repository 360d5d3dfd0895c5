// The fleet repo on a git server whose https certificate a private CA signed (made here with
// openssl), reached by everything but the hub's pages (those are test/hub/repo-ca.test.ts): the
// agent (repo.caFile, ROLLGATE_REPO_CA_FILE, --repo-ca-file; its poll is an ls-refs request over
// node:http, its fetch isomorphic-git's), `rollgate diff` and `validate`, the operator's rollout
// steps that push, and the hub's promoter (promoter.caFile, --promote-ca-file). Without the CA each
// is refused with an error that says the certificate is signed by no trusted CA and what to give;
// with it each works; a CA file for a local path is refused as a mistake.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadAgentConfig } from '../../src/agent/config.js';
import { agentFleetSource } from '../../src/agent/ports.js';
import { fleetSource } from '../../src/agent/fleet-source.js';
import { promoterSettings } from '../../src/cli/hub-promoter.js';
import { repoSettings } from '../../src/cli/hub-repo.js';
import { readHubConfig } from '../../src/hub/index.js';
import { openPromoterRepo } from '../../src/promoter/index.js';
import { rollgate, rollgateWith } from '../helpers/cli.js';
import { exampleBareRepo, run, tempDir } from '../helpers/fixtures.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { PromoterLab } from '../helpers/promoter-lab.js';
import { privateCa } from '../helpers/tls.js';

const NO_CA = /TLS certificate is signed by no CA this machine trusts/;

const root = tempDir('rollgate-repo-ca-');
const { commits } = exampleBareRepo(root);
const head = commits.at(-1)!;
const ours = privateCa(root, 'fleet-ca');
const other = privateCa(root, 'other-ca');
let server: GitServer;
let url = '';
before(async () => {
  server = await startGitServer(root, 0, { tls: ours.server });
  url = server.url('fleet.git');
});
after(() => server.close());

describe('the agent', () => {
  const config = (env: Record<string, string>, flags: Record<string, unknown> = {}) =>
    loadAgentConfig({
      file: join(root, 'none.yaml'),
      env: {
        ROLLGATE_REPO: url,
        ROLLGATE_GATEWAY_ID: 'gw-1',
        ROLLGATE_STATE_DIR: tempDir('rollgate-ca-state-'),
        ...env,
      },
      flags,
      requireAll: true,
    }).then((c) => c.config);
  before(() => writeFileSync(join(root, 'none.yaml'), '{}\n'));

  test('polls and fetches with ROLLGATE_REPO_CA_FILE, and with --repo-ca-file', async () => {
    for (const cfg of [
      await config({ ROLLGATE_REPO_CA_FILE: ours.caCrt }),
      await config({}, { repoCaFile: ours.caCrt }),
    ]) {
      assert.equal(cfg.repo.caFile, ours.caCrt);
      const source = agentFleetSource(cfg);
      const before = server.requests.length;
      const r = await source.poll();
      assert.equal(r.commit, head, 'fetched the head');
      const made = server.requests.slice(before).map((q) => q.method + ' ' + q.path);
      assert.ok(
        made.some((m) => m.includes('git-upload-pack') && m.startsWith('POST')),
        made.join('\n'),
      );
      // The objects are there: the fetch went over https with the CA too.
      assert.equal(run('git', ['--git-dir', source.gitdir, 'cat-file', '-t', head]), 'commit');
    }
  });

  test('without the CA, or with another one, the poll fails saying so; nothing is fetched', async () => {
    const without = agentFleetSource(await config({}));
    await assert.rejects(without.poll(), (err: Error) => {
      assert.match(err.message, NO_CA);
      assert.match(err.message, /repo\.caFile/);
      return true;
    });
    const wrong = agentFleetSource(await config({ ROLLGATE_REPO_CA_FILE: other.caCrt }));
    await assert.rejects(wrong.poll(), new RegExp(`${other.caCrt} does not hold the CA that signed it`));
  });

  test('a CA file for a local repository is a mistake, said at once; one that is no PEM too', async () => {
    assert.throws(
      () =>
        fleetSource({ url: join(root, 'fleet.git'), ref: 'main', stateDir: root, timeoutMs: 1000, caFile: ours.caCrt }),
      /repo\.caFile \(--repo-ca-file\) is for a git server at an https URL/,
    );
    const notPem = join(root, 'not-a-ca.pem');
    writeFileSync(notPem, 'hello\n');
    const cfg = await config({ ROLLGATE_REPO_CA_FILE: notPem });
    assert.throws(() => agentFleetSource(cfg), new RegExp(`the CA file ${notPem} holds no PEM certificate`));
  });

  test('`rollgate agent --help` lists it, with its key and variable', async () => {
    const help = await rollgate('agent', '--help');
    assert.match(
      help.out,
      /--repo-ca-file <file>[\s\S]*\[repo\.caFile in the config file; env ROLLGATE_REPO_CA_FILE\]/,
    );
  });
});

describe('rollgate diff and validate', () => {
  test('read the repo over https with --repo-ca-file; without it, exit 1 naming the CA problem', async () => {
    const args = ['--repo', url, '--ref', 'main'];
    const ok = await rollgate('diff', ...args, '--id', 'gw-0001', '--repo-ca-file', ours.caCrt);
    assert.notEqual(ok.code, 1, ok.err);
    const valid = await rollgate('validate', ...args, '--repo-ca-file', ours.caCrt);
    assert.equal(valid.code, 0, valid.err);
    for (const command of [['diff', '--id', 'gw-0001'], ['validate']]) {
      const no = await rollgate(command[0]!, ...args, ...command.slice(1));
      assert.equal(no.code, 1, `${command[0]}: ${no.out}`);
      assert.match(no.err, NO_CA);
    }
    // The environment's CAs still count beside the file: NODE_EXTRA_CA_CERTS names ours, the flag another.
    const both = await rollgateWith(
      { NODE_EXTRA_CA_CERTS: ours.caCrt },
      'validate',
      ...args,
      '--repo-ca-file',
      other.caCrt,
    );
    assert.equal(both.code, 0, both.err);
    const local = await rollgate(
      'validate',
      '--repo',
      join(root, 'fleet.git'),
      '--ref',
      'main',
      '--repo-ca-file',
      ours.caCrt,
    );
    assert.equal(local.code, 1);
    assert.match(local.err, /--repo-ca-file is for a git server at an https URL/);
  });
});

describe('the promoter', () => {
  const lab = new PromoterLab();
  let tlsServer: GitServer;
  let tlsUrl = '';
  let base = '';
  let target = '';
  before(async () => {
    await lab.init({ inProcessHub: false });
    base = lab.commitFleet('system v1');
    target = lab.commitFleet('system v2', (f) => f.replace('LOG_LEVEL: debug', 'LOG_LEVEL: trace'));
    // The same bare repository, served over https by a server the private CA vouches for.
    tlsServer = await startGitServer(join(lab.root, 'srv'), 0, { tls: ours.server });
    tlsUrl = tlsServer.url('fleet.git');
  });
  after(async () => {
    await tlsServer?.close();
    await lab.close();
  });
  const step = (command: string, ...args: string[]) =>
    rollgate('rollout', command, '--repo', tlsUrl, '--signing-key', lab.keyFile, '--by', 'ops@example.com', ...args);

  test('`rollgate rollout` steps push over https with --repo-ca-file; without it nothing is written', async () => {
    const start = ['--target', target, '--base', base, '--id', 'edge-v2', '--why', 'release v2'];
    const refused = await step('start', ...start);
    assert.equal(refused.code, 1, refused.out);
    assert.match(refused.err, NO_CA);
    assert.equal(lab.head(), target, 'nothing pushed');
    const started = await step('start', ...start, '--repo-ca-file', ours.caCrt);
    assert.equal(started.code, 0, started.err);
    assert.equal(lab.stateAt().id, 'edge-v2');
    const paused = await step('pause', '--why', 'hold', '--repo-ca-file', ours.caCrt);
    assert.equal(paused.code, 0, paused.err);
    assert.equal(lab.stateAt().state, 'paused');
  });

  test("the hub's promoter: promoter.caFile, --promote-ca-file reach its repository and the pages' read", async () => {
    const file = join(root, 'hub.yaml');
    writeFileSync(file, `promoter:\n  repo: ${tlsUrl}\n  signingKey: ${lab.keyFile}\n  caFile: ${ours.caCrt}\n`);
    const config = await readHubConfig(file);
    const fromFile = await promoterSettings({}, config.promoter);
    assert.equal(fromFile?.repo.caFile, ours.caCrt);
    const fromFlag = await promoterSettings({ promoteCaFile: other.caCrt }, config.promoter);
    assert.equal(fromFlag?.repo.caFile, other.caCrt, 'the flag wins');
    // The pages read the promoter's repository with the promoter's CAs, as with its credentials.
    assert.equal(repoSettings({}, fromFile)?.caFile, ours.caCrt);
    const cache = tempDir('rollgate-promote-ca-');
    const repo = openPromoterRepo({ ...fromFile!.repo, cacheDir: cache, depth: 5 });
    try {
      assert.equal(await repo.head(), lab.head());
    } finally {
      repo.close();
    }
    const without = openPromoterRepo({
      repo: tlsUrl,
      ref: 'main',
      cacheDir: tempDir('rollgate-promote-ca-'),
      depth: 5,
    });
    try {
      await assert.rejects(without.head(), NO_CA);
    } finally {
      without.close();
    }
    await assert.rejects(
      promoterSettings({ promoteRepo: lab.bare, promoteSigningKey: lab.keyFile, promoteCaFile: ours.caCrt }, undefined),
      /--promote-ca-file \(promoter\.caFile\) is for a repository at an https URL/,
    );
  });
});
