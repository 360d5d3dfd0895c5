// What `rollgate diff`, `validate` and `apply` print never holds a value of the gateway's secret
// files: --var-file and --var values are named or shown as the Compose file wrote them, a git
// server that echoes the credentials it was sent is scrubbed, and so is an update interface that
// prints one — in long output that rollgate cuts, or in JSON written by Go or Python. The CLI as a
// process, with a real interface executable.

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Plan } from '../../src/model/index.js';
import { rollgate } from '../helpers/cli.js';
import { DeviceLab, requireMenderTools, SIMULATED_DEVICE } from '../helpers/devices.js';
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

/** The longest run of 6 or more characters of `secret` that `text` holds, or '' (what a cut left of it). */
function pieceOf(text: string, secret: string): string {
  for (let n = secret.length; n >= 6; n--)
    for (let i = 0; i + n <= secret.length; i++)
      if (text.includes(secret.slice(i, i + n))) return secret.slice(i, i + n);
  return '';
}

describe('an update interface that prints a gateway secret', { skip: requireMenderTools() }, () => {
  /** Cut by rollgate where it keeps only so much of what an interface printed. */
  const CUT = 'gw-Secret-Cut-Into-Two-8831';
  /** In JSON as Go writes it (<, > and & as \u003c, \u003e, \u0026). */
  const GO = 'pw&<gw>-Go-Secret-4410';
  /** In JSON as Python writes it (every character past ASCII as \uXXXX, 😀 as a surrogate pair). */
  const PY = 'Pässwörd-Py-Secret-😀-5521';
  const varFile = write('interface.env', `CUT=${CUT}\nGO_PW=${GO}\nPY_PW=${PY}\n`);
  let lab: DeviceLab;
  const answer = () => join(lab.root, 'SupportsRollback.answer');
  const installError = () => join(lab.root, 'ArtifactInstall.stderr');

  before(() => {
    lab = new DeviceLab([{ id: 'G13', type: 'gateway', iface: 'gateway-rootfs', order: 10 }]);
    // The simulated device, but for the answers and the errors a test plants.
    const iface = join(lab.interfaces, 'gateway-rootfs');
    rmSync(iface);
    writeFileSync(
      iface,
      `#!/bin/sh\ncase "$1" in\n  SupportsRollback) [ -f '${answer()}' ] && exec cat '${answer()}' ;;\n` +
        `  ArtifactInstall) [ -f '${installError()}' ] && { cat '${installError()}' >&2; exit 1; } ;;\nesac\n` +
        `exec '${SIMULATED_DEVICE}' "$@"\n`,
    );
    chmodSync(iface, 0o755);
    lab.writeRepo(() => 'artifacts/gateway-v2.mender');
  });
  after(() => lab?.close());

  const apply = async () => {
    lab.seed(() => 'gateway-v1');
    rmSync(lab.stateDir, { recursive: true, force: true });
    const r = await lab.apply({ args: ['--var-file', varFile] });
    return { ...r, text: r.out + r.err };
  };

  test('a query answer cut at 200 characters, with the secret across the cut', async () => {
    writeFileSync(answer(), `${'Z'.repeat(180)}${CUT}${'Q'.repeat(100)}\n`);
    try {
      const r = await apply();
      assert.equal(r.code, 1, r.text);
      assert.match(r.text, /SupportsRollback must answer Yes, No or nothing, got "Z{180}/);
      assert.equal(pieceOf(r.text, CUT), '', r.text);
    } finally {
      rmSync(answer());
    }
  });

  test('an error whose last 600 characters start inside the secret, and JSON from Go and Python', async () => {
    const go = JSON.stringify({ error: 'login refused', password: GO })
      .replace(/&/g, '\\u0026')
      .replace(/</g, '\\u003c')
      .replace(/>/g, '\\u003e');
    const py = JSON.stringify({ password: PY }).replace(
      /[\u0080-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
    assert.ok(!go.includes(GO) && !py.includes(PY) && py.includes('\\ud83d\\ude00'), `${go}\n${py}`);
    const after = `${'B'.repeat(200)}\n${go}\n${py}`;
    // Of the secret, all but its first 4 characters are in the 600 that are kept.
    const pad = 600 - (CUT.length - 4) - after.length;
    writeFileSync(installError(), `${'A'.repeat(1000)}${CUT}${'B'.repeat(pad)}${after}\n`);
    try {
      const r = await apply();
      assert.equal(r.code, 3, r.text);
      assert.match(r.text, /ArtifactInstall.*it printed stderr: …/);
      assert.match(r.text, /login refused/);
      for (const secret of [CUT, GO, PY]) assert.equal(pieceOf(r.text, secret), '', `${secret} in:\n${r.text}`);
    } finally {
      rmSync(installError());
    }
  });
});
