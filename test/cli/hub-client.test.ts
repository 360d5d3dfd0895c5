// The CLI's hub client (`rollgate fleet`, `hub gateway … --hub`, `rollout … --hub`) attacked from the
// network: it does not hand a reader or admin token to plain http on another machine unless told to
// (as the agent's report.allowPlainHttp), a --ca-file with an http:// hub is a mistake said at once
// rather than a TLS that is not there, and what a hub says in an error reaches the terminal as text.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ALLOW_PLAIN_HTTP, hubRequest } from '../../src/cli/hub-client.js';
import { tempDir } from '../helpers/fixtures.js';

const dir = tempDir('rollgate-hub-client-');
const tokenFile = join(dir, 'admin.token');
writeFileSync(tokenFile, 'rga_secret\n');
const seen: string[] = [];
const hub = createServer((req, res) => {
  seen.push(String(req.headers.authorization));
  res.writeHead(400, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: 'bad\u001b]0;pwned\u0007\u001b[2J\r\u202edeliaf' }));
});
await new Promise<void>((r) => hub.listen(0, '127.0.0.1', r));
const port = (hub.address() as AddressInfo).port;
after(() => new Promise((r) => hub.close(r)));

test('no token over plain http to another machine, unless allowed on purpose', async () => {
  // 0.0.0.0 is not loopback by name; connecting to it reaches this machine, so "allowed" is quick to show.
  const remote = `http://0.0.0.0:${port}`;
  await assert.rejects(hubRequest({ hub: remote, tokenFile }, 'GET', '/api/v1/fleet'), (err: Error) => {
    assert.match(err.message, /refusing to send the token in .*admin\.token to 0\.0\.0\.0:\d+ over plain http/);
    assert.match(err.message, new RegExp(`${ALLOW_PLAIN_HTTP}=true`));
    return true;
  });
  assert.deepEqual(seen, [], 'nothing was sent');
  process.env[ALLOW_PLAIN_HTTP] = 'true';
  try {
    await assert.rejects(hubRequest({ hub: remote, tokenFile }, 'GET', '/api/v1/fleet'), /the hub answered 400/);
  } finally {
    delete process.env[ALLOW_PLAIN_HTTP];
  }
  assert.deepEqual(seen, ['Bearer rga_secret']);
});

test('--ca-file with an http:// hub is refused, not ignored', async () => {
  await assert.rejects(
    hubRequest({ hub: `http://127.0.0.1:${port}`, tokenFile, caFile: join(dir, 'ca.pem') }, 'GET', '/api/v1/fleet'),
    /--ca-file \(.*ca\.pem\) is for a hub at an https:\/\/ URL; http:\/\/127\.0\.0\.1:\d+ is plain http/,
  );
});

test("a hub's error reaches the terminal as text: control and bidi characters shown as \\uXXXX", async () => {
  await assert.rejects(hubRequest({ hub: `http://127.0.0.1:${port}`, tokenFile }, 'GET', '/x'), (err: Error) => {
    for (const c of ['\u001b', '\u0007', '\r', '\u202e']) assert.ok(!err.message.includes(c), JSON.stringify(c));
    assert.match(err.message, /bad\\u001b\]0;pwned\\u0007\\u001b\[2J\\u000d\\u202edeliaf/);
    return true;
  });
});

test('a hub address with credentials is refused, the password never shown', async () => {
  await assert.rejects(
    hubRequest({ hub: `http://ops:hunter2@127.0.0.1:${port}`, tokenFile }, 'GET', '/api/v1/fleet'),
    (err: Error) => {
      assert.match(err.message, /has credentials in it: give the hub's plain address/);
      assert.doesNotMatch(err.message, /hunter2/);
      return true;
    },
  );
  await assert.rejects(hubRequest({ hub: 'ftp://ops:hunter2@x', tokenFile }, 'GET', '/'), (err: Error) => {
    assert.doesNotMatch(err.message, /hunter2/);
    return true;
  });
});
