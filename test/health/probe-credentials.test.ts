// Probes say why a check failed without quoting the credentials of its URL: a check of an
// endpoint behind basic auth (http://user:password@host/) fails with *** where they were.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { probe } from '../../src/health/index.js';

test('an http check whose URL carries credentials fails naming the URL without them', async () => {
  const server = createServer((req, res) => {
    res.writeHead(req.headers.authorization ? 503 : 401);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const base = { name: 'api', required: true, intervalMs: 50, timeoutMs: 1_000, failureThreshold: 1 };
    const failing = await probe(
      { ...base, kind: 'http', url: `http://admin:h3alth-Pw@127.0.0.1:${port}/status`, expectStatus: [200] },
      {},
    );
    assert.equal(failing.ok, false);
    assert.equal(failing.detail, `http://***@127.0.0.1:${port}/status answered HTTP 503, expected 200`);
    const refused = await probe(
      { ...base, kind: 'http', url: 'http://admin:h3alth-Pw@127.0.0.1:1/', expectStatus: [200] },
      {},
    );
    assert.match(refused.detail, /^http:\/\/\*\*\*@127\.0\.0\.1:1\/: ECONNREFUSED/);
    assert.doesNotMatch(failing.detail + refused.detail, /h3alth-Pw|admin/);
  } finally {
    server.close();
  }
});
