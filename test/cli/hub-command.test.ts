// `rollgate hub` and `rollgate fleet` as an operator types them: tokens printed once on stdout with
// the words on stderr, a gateway added twice named, the embedded database held by a running hub
// (and the way around it: --hub with an admin token), HTTPS with a private CA, and the errors of a
// hub or database that is not there, a webhook with credentials, and a gateway's control characters.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { rollgate } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { call, report, sha, status, verdict } from '../helpers/hub.js';
import { freePort, HubProcess } from '../helpers/hub-lab.js';
import { selfSignedCert } from '../helpers/tls.js';

const root = tempDir('rollgate-hubcli-');
const data = join(root, 'hub');
const hubs: HubProcess[] = [];
after(async () => {
  for (const h of hubs) await h.kill('SIGTERM');
});

test('tokens are printed once, on stdout alone; a gateway added twice is named', async () => {
  const admin = await rollgate('hub', 'token', 'add', '--role', 'admin', 'ops', '--data-dir', data);
  assert.equal(admin.code, 0, admin.err);
  assert.match(admin.out.trim(), /^rga_[A-Za-z0-9_-]{43}$/);
  assert.match(admin.err, /admin token ops added\. Its token, shown this once/);
  writeFileSync(join(root, 'admin.token'), admin.out);
  const gw = await rollgate('hub', 'gateway', 'add', 'gw-1', '--label', 'site=berlin', '--data-dir', data);
  assert.equal(gw.code, 0, gw.err);
  assert.match(gw.out.trim(), /^rgw_/);
  assert.match(gw.err, /set report\.url and report\.tokenFile/);
  const twice = await rollgate('hub', 'gateway', 'add', 'gw-1', '--data-dir', data);
  assert.equal(twice.code, 1);
  assert.match(twice.err, /gateway gw-1 exists already; `rollgate hub gateway token gw-1` gives it a new token/);
  const badId = await rollgate('hub', 'gateway', 'add', 'gw 1; rm -rf', '--data-dir', data);
  assert.equal(badId.code, 1);
  assert.match(badId.err, /is not a gateway id/);
  const list = await rollgate('hub', 'token', 'list', '--data-dir', data);
  assert.match(list.out, /^ops\tadmin\t/m);
  assert.doesNotMatch(list.out, /rga_/, 'a token is never shown again');
});

test('a running hub holds its embedded database; --hub with an admin token goes through it', async () => {
  const port = await freePort();
  const hub = new HubProcess(['--data-dir', data, '--listen', `127.0.0.1:${port}`]);
  hubs.push(hub);
  await hub.listening();
  const held = await rollgate('hub', 'gateway', 'add', 'gw-2', '--data-dir', data);
  assert.equal(held.code, 1);
  assert.match(held.err, /another rollgate hub \(pid \d+, .*\) uses the embedded database/);
  assert.match(held.err, /--hub <its url> --token-file <a file with an admin token>/);
  const url = `http://127.0.0.1:${port}`;
  const via = await rollgate('hub', 'gateway', 'add', 'gw-2', '--hub', url, '--token-file', join(root, 'admin.token'));
  assert.equal(via.code, 0, via.err);
  assert.match(via.out.trim(), /^rgw_/);
  const list = await rollgate(
    'hub',
    'gateway',
    'list',
    '--hub',
    url,
    '--token-file',
    join(root, 'admin.token'),
    '--output',
    'json',
  );
  assert.deepEqual(
    (JSON.parse(list.out) as { id: string }[]).map((g) => g.id),
    ['gw-1', 'gw-2'],
  );
  const status = await rollgate('fleet', 'status', '--hub', url, '--token-file', join(root, 'admin.token'));
  assert.equal(status.code, 0, status.err);
  assert.match(status.out, /gateways {3}2: 0 reporting, 0 silent, 2 never reported/);
  await hub.kill('SIGTERM');
  assert.match(hub.out, /stopping: no new requests/);
});

test('HTTPS with a private CA: the hub serves it; `rollgate fleet` trusts it with --ca-file', async () => {
  const { key, crt } = selfSignedCert(root);
  const port = await freePort();
  const hub = new HubProcess([
    '--data-dir',
    data,
    '--listen',
    `127.0.0.1:${port}`,
    '--tls-cert',
    crt,
    '--tls-key',
    key,
  ]);
  hubs.push(hub);
  await hub.listening();
  assert.match(hub.err, new RegExp(`listening on https://127\\.0\\.0\\.1:${port}`));
  const args = ['fleet', 'status', '--hub', `https://127.0.0.1:${port}`, '--token-file', join(root, 'admin.token')];
  const untrusted = await rollgate(...args);
  assert.equal(untrusted.code, 1);
  assert.match(untrusted.err, /cannot reach the hub at https:.*self-signed certificate/);
  assert.match(untrusted.err, /give that CA's certificate \(PEM\) with --ca-file <file> or ROLLGATE_HUB_CA_FILE/);
  const trusted = await rollgate(...args, '--ca-file', crt);
  assert.equal(trusted.code, 0, trusted.err);
  assert.match(trusted.out, /gateways {3}2:/);
  // The system's CAs stay trusted beside it, and the environment does as well as the flag.
  const { rollgateWith } = await import('../helpers/cli.js');
  const byEnv = await rollgateWith({ ROLLGATE_HUB_CA_FILE: crt }, ...args);
  assert.equal(byEnv.code, 0, byEnv.err);
  const admin = await rollgate('hub', 'gateway', 'list', '--hub', `https://127.0.0.1:${port}`, '--ca-file', crt);
  assert.equal(admin.code, 1, 'no token file: refused before any request');
  const listed = await rollgate(
    'hub',
    'gateway',
    'list',
    '--hub',
    `https://127.0.0.1:${port}`,
    '--token-file',
    join(root, 'admin.token'),
    '--ca-file',
    crt,
  );
  assert.equal(listed.code, 0, listed.err);
  assert.match(listed.out, /^gw-1\t/m);
  const wrongCa = selfSignedCert(tempDir('rollgate-otherca-'));
  const other = await rollgate(...args, '--ca-file', wrongCa.crt);
  assert.equal(other.code, 1);
  assert.match(other.err, new RegExp(`; ${wrongCa.crt} does not hold the CA that signed it`));
  // --ca-file adds to what the process trusts already (here NODE_EXTRA_CA_CERTS), never replaces it.
  const both = await rollgateWith({ NODE_EXTRA_CA_CERTS: crt }, ...args, '--ca-file', wrongCa.crt);
  assert.equal(both.code, 0, both.err);
  await hub.kill('SIGTERM');
});

test('a token the hub does not know is said to be refused, naming its file, never said to be missing', async () => {
  const port = await freePort();
  const hub = new HubProcess(['--data-dir', data, '--listen', `127.0.0.1:${port}`]);
  hubs.push(hub);
  await hub.listening();
  const wrong = join(root, 'wrong.token');
  writeFileSync(wrong, 'rgr_thisIsNotATokenTheHubHasEverGivenToAnyone0000000\n');
  const r = await rollgate('fleet', 'status', '--hub', `http://127.0.0.1:${port}`, '--token-file', wrong);
  assert.equal(r.code, 1);
  assert.match(
    r.err,
    new RegExp(
      `the hub refused the token in ${wrong} \\(401: the hub does not know this token \\(removed, rotated, or ` +
        'made for another hub\\)\\); put a current reader or admin token in it',
    ),
  );
  assert.doesNotMatch(r.err, /is needed/);
  assert.doesNotMatch(r.err, /thisIsNotAToken/, 'the token is never shown');
  const empty = join(root, 'empty.token');
  writeFileSync(empty, '\n');
  const e = await rollgate('fleet', 'status', '--hub', `http://127.0.0.1:${port}`, '--token-file', empty);
  assert.equal(e.code, 1);
  assert.match(e.err, new RegExp(`the token file ${empty} is empty: put a reader or admin token in it`));
  await hub.kill('SIGTERM');
});

test('a hub or a database that is not there is named, and no password is shown', async () => {
  const port = await freePort();
  const down = await rollgate(
    'fleet',
    'commit',
    'abcdef1',
    '--hub',
    `http://127.0.0.1:${port}`,
    '--token-file',
    join(root, 'admin.token'),
  );
  assert.equal(down.code, 1);
  assert.match(down.err, new RegExp(`cannot reach the hub at http://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
  const pg = await rollgate('hub', 'token', 'list', '--database', `postgres://ops:hunter2@127.0.0.1:${port}/fleet`);
  assert.equal(pg.code, 1);
  assert.match(pg.err, /cannot reach the database postgres:\/\/ops:\*\*\*@127\.0\.0\.1/);
  assert.doesNotMatch(pg.err, /hunter2/);
  const notPg = await rollgate('hub', 'token', 'list', '--database', 'mysql://db/fleet');
  assert.match(notPg.err, /--database takes a postgres:\/\/ URL/);
  const noToken = await rollgate('fleet', 'status', '--hub', 'http://127.0.0.1:1');
  assert.match(noToken.err, /a reader or admin token is needed/);
});

test('a webhook URL with credentials stops the hub at start, named without its password', async () => {
  const config = join(root, 'creds.yaml');
  writeFileSync(config, 'webhooks:\n  - url: https://ops:hunter2@chat.example.com/hooks/abc\n    events: [silent]\n');
  const port = await freePort();
  const hub = new HubProcess(['--data-dir', join(root, 'creds'), '--listen', `127.0.0.1:${port}`, '--config', config]);
  hubs.push(hub);
  const outcome = await Promise.race([hub.exited.then((e) => e.code), hub.listening().then(() => 'listening')]);
  assert.equal(outcome, 1, hub.err);
  assert.match(hub.err, /webhooks\[0\]\.url \(to chat\.example\.com\) has credentials in it/);
  assert.doesNotMatch(hub.err + hub.out, /hunter2/);
});

test('`rollgate fleet commit` shows control characters a gateway sent as text, never as terminal codes', async () => {
  const dir = join(root, 'ctl');
  const admin = await rollgate('hub', 'token', 'add', '--role', 'admin', 'ops', '--data-dir', dir);
  writeFileSync(join(root, 'ctl-admin.token'), admin.out);
  const gw = await rollgate('hub', 'gateway', 'add', 'gw-ctl', '--data-dir', dir);
  const port = await freePort();
  const hub = new HubProcess(['--data-dir', dir, '--listen', `127.0.0.1:${port}`]);
  hubs.push(hub);
  await hub.listening();
  const url = `http://127.0.0.1:${port}`;
  const detail = 'check failed\u001b]0;pwned\u0007\u001b[2J\r\u202eoverwritten';
  const e = verdict('rolled-back', sha(2), { reason: 'health-failed', to: sha(1), detail });
  const sent = await call(url, 'POST', '/api/v1/reports', {
    token: gw.out.trim(),
    body: report('gw-ctl', status(), [e]),
  });
  assert.equal(sent.status, 200, sent.text);
  const shown = await rollgate('fleet', 'commit', sha(2), '--hub', url, '--token-file', join(root, 'ctl-admin.token'));
  assert.equal(shown.code, 0, shown.err);
  for (const c of ['\u0007', '\u001b', '\r', '\u202e']) assert.ok(!shown.out.includes(c), JSON.stringify(c));
  assert.match(shown.out, /check failed\\u001b\]0;pwned\\u0007\\u001b\[2J\\u000d\\u202eoverwritten/);
  const json = await rollgate(
    'fleet',
    'commit',
    sha(2),
    '--hub',
    url,
    '--token-file',
    join(root, 'ctl-admin.token'),
    '--output',
    'json',
  );
  assert.equal(
    (JSON.parse(json.out) as { reasons: { example: string }[] }).reasons[0]!.example,
    detail,
    'JSON is exact',
  );
  await hub.kill('SIGTERM');
});
