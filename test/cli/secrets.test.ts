// What `rollgate diff`, `validate` and `apply` print never holds a value of the gateway's secret
// files: --var-file and --var values are named or shown as the Compose file wrote them, and a git
// server that echoes the credentials it was sent is scrubbed. The CLI as a process.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Plan } from '../../src/model/index.js';
import { rollgate } from '../helpers/cli.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';

const root = tempDir('rollgate-cli-secrets-');
after(() => cleanup(root));

const REGISTRY = 'registry.customer-7731.example';
const PASSWORD = 'pw-Gateway-Only-4471';
const TAG = 'v2';

function write(path: string, text: string): string {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

/** A fleet repo (a working tree) of one app whose image, environment and hook come from gateway variables. */
function repo(compose: string): string {
  const dir = join(root, `repo-${Math.random().toString(36).slice(2)}`);
  mkdirSync(join(dir, 'app'), { recursive: true });
  writeFileSync(
    join(dir, 'rollgate.yaml'),
    'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  sys:\n    apps:\n      web: app/compose.yaml\n' +
      'targets:\n  - name: all\n    match: { any: true }\n    system: sys\n',
  );
  writeFileSync(join(dir, 'app/compose.yaml'), compose);
  return dir;
}

const vars = write('gateway.env', `REGISTRY=${REGISTRY}\nDB_PASSWORD=${PASSWORD}\nTAG=${TAG}\n`);

function noneOf(text: string, ...values: string[]): void {
  for (const v of values) assert.ok(!text.includes(v), `${JSON.stringify(v)} is printed:\n${text}`);
}

describe('rollgate diff and validate with a variables file', () => {
  const compose =
    'services:\n  web:\n    image: "${REGISTRY}/web:${TAG}"\n    environment: { DB_PASSWORD: "${DB_PASSWORD}" }\n' +
    '    post_start:\n      - command: ["sh", "-c", "login --password ${DB_PASSWORD}"]\n';

  test('the plan shows what the variables made as the file wrote it, human and JSON', async () => {
    const dir = repo(compose);
    const human = await rollgate('diff', '--repo', dir, '--id', 'gw-1', '--var-file', vars);
    assert.equal(human.code, 2, human.err);
    assert.match(human.out, /pull {6}\$\{REGISTRY\}\/web:\$\{TAG\}/);
    assert.match(human.out, /post_start: sh -c login --password (\$\{DB_PASSWORD\}|\[redacted\])/);
    noneOf(human.out + human.err, REGISTRY, PASSWORD, `web:${TAG}`);
    const json = await rollgate('diff', '--repo', dir, '--id', 'gw-1', '--var-file', vars, '--output', 'json');
    assert.equal(json.code, 2, json.err);
    const plan = JSON.parse(json.out) as Plan;
    assert.equal(plan.prepare[0]!.target.kind === 'image' && plan.prepare[0]!.target.ref, '${REGISTRY}/web:${TAG}');
    noneOf(json.out, REGISTRY, PASSWORD, `web:${TAG}`);
  });

  test('a commit that does not validate because of a variable names the variable', async () => {
    const dir = repo('services:\n  web:\n    image: busybox\n    ports: ["${DB_PASSWORD}:80", "${TAG}:81"]\n');
    const r = await rollgate('validate', '--repo', dir, '--var-file', vars);
    assert.equal(r.code, 1);
    assert.match(r.err, /ports: expected a port like .*got "\$\{DB_PASSWORD\}:80"/);
    assert.match(r.err, /ports: expected a port like .*got "\$\{TAG\}:81"/);
    noneOf(r.out + r.err, PASSWORD, `"${TAG}:81"`);
    const v = await rollgate('validate', '--repo', dir, '--var', `DB_PASSWORD=${PASSWORD}`);
    assert.match(v.err, /got "\$\{DB_PASSWORD\}:80"/, '--var values are the gateway variables too');
    noneOf(v.err, PASSWORD);
  });
});

describe('a git server that echoes the credentials it was sent', () => {
  const token = 'tok-Fleet-Repo-90817';
  const basic = 'fleet-reader:basic-Pw-55320';
  let server: Server;
  let url = '';
  before(async () => {
    // It answers the poll as git does, then the fetch with an error page that quotes the request.
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (req.method === 'POST' && body.includes('ls-refs')) {
          const line = `${'a'.repeat(40)} refs/heads/main\n`;
          res.writeHead(200, { 'content-type': 'application/x-git-upload-pack-result' });
          res.end(`${(line.length + 4).toString(16).padStart(4, '0')}${line}0000`);
          return;
        }
        const auth = String(req.headers.authorization);
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(`<h1>proxy error</h1> you sent ${auth}; as a link: /login?auth=${encodeURIComponent(auth)}`);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fleet.git`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('a token, as it is and percent-encoded', async () => {
    const r = await rollgate('diff', '--repo', url, '--id', 'gw', '--auth-token-file', write('token', `${token}\n`));
    assert.equal(r.code, 1);
    assert.match(r.err, /did not reply using the "smart" HTTP protocol.*you sent Bearer \[redacted\]/);
    noneOf(r.err, token, encodeURIComponent(token));
  });

  test('a user:password, base64-encoded in the header it echoes', async () => {
    const r = await rollgate('diff', '--repo', url, '--id', 'gw', '--auth-basic-file', write('basic', basic));
    assert.equal(r.code, 1);
    assert.match(r.err, /you sent Basic \[redacted\]/);
    noneOf(r.err, Buffer.from(basic).toString('base64'), 'basic-Pw-55320', encodeURIComponent(basic));
  });
});
