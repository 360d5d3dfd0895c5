// The update-interface applier with artifacts at a URL: checksum mismatches, interrupted
// downloads resumed with a range request, URLs that do not exist.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DeviceLab } from '../helpers/devices.js';
import { skip, v } from '../helpers/interface-lab.js';

describe('update interfaces: artifacts at a URL', { skip }, () => {
  let lab: DeviceLab;
  let server: Server;
  let base: string;
  const requests: { path: string; range?: string }[] = [];
  /** Paths whose first request is cut off halfway. */
  const cutOnce = new Set<string>();

  before(async () => {
    lab = new DeviceLab();
    server = createServer((req, res) => {
      const path = req.url ?? '/';
      requests.push({ path, ...(req.headers.range ? { range: req.headers.range } : {}) });
      const file = join(lab.repo, 'artifacts', path.replace(/^\/+/, ''));
      if (!existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      const body = readFileSync(file);
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (m) {
        const from = Number(m[1]);
        res.writeHead(206, {
          'Content-Range': `bytes ${from}-${body.length - 1}/${body.length}`,
          'Content-Length': body.length - from,
        });
        res.end(body.subarray(from));
        return;
      }
      res.writeHead(200, { 'Content-Length': body.length });
      if (cutOnce.delete(path)) {
        res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.destroy());
        return;
      }
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
    lab.close();
  });

  const urlArtifact = (n: number, sha?: (type: string) => string) => (type: string) => {
    const name = `${type}-v${n}`;
    const real = createHash('sha256')
      .update(readFileSync(join(lab.repo, `artifacts/${name}.mender`)))
      .digest('hex');
    return { url: `${base}/${name}.mender`, name, sha256: sha ? sha(type) : real };
  };

  test('a checksum mismatch: nothing is installed, the error names the URL and both sums', async () => {
    lab.seed(v(1));
    const wrong = 'ab'.repeat(32);
    lab.writeRepo(
      urlArtifact(2, (t) =>
        t === 'rtos'
          ? wrong
          : createHash('sha256')
              .update(readFileSync(join(lab.repo, `artifacts/${t}-v2.mender`)))
              .digest('hex'),
      ),
    );
    const r = await lab.apply();
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(
      r.err,
      new RegExp(
        `http://127\\.0\\.0\\.1:\\d+/rtos-v2\\.mender has sha256 [0-9a-f]{64}, but the manifest says ${wrong}; ` +
          `nothing was installed`,
      ),
    );
    assert.deepEqual(lab.running(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' });
    assert.ok(!lab.calls().some((c) => c.endsWith('ArtifactInstall')));
  });

  test('an interrupted download resumes with a range request and installs', async () => {
    // 2 MB that gzip cannot shrink: the cut comes mid-body, after the client has received some of it.
    lab.artifact('gateway', 'gateway-v9', 'gateway-rootfs', { 'gateway-v9.img': randomBytes(2_000_000) });
    lab.seed(v(1));
    lab.writeRepo((type) => (type === 'gateway' ? urlArtifact(9)(type) : urlArtifact(3)(type)));
    cutOnce.add('/gateway-v9.mender');
    requests.length = 0;
    const r = await lab.apply();
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(lab.running(), { G13: 'gateway-v9', R456: 'rtos-v3', R998: 'rtos-v3' });
    assert.match(r.err, /resuming the download of http:\/\/127\.0\.0\.1:\d+\/gateway-v9\.mender at byte [1-9]\d*/);
    const g = requests.filter((q) => q.path === '/gateway-v9.mender');
    assert.equal(g.length, 2, JSON.stringify(requests));
    assert.equal(g[0]!.range, undefined);
    assert.match(g[1]!.range ?? '', /^bytes=[1-9]\d*-$/);
    // Cached: the same artifacts are not fetched again for the next apply.
    lab.seed(v(1));
    requests.length = 0;
    const again = await lab.apply();
    assert.equal(again.code, 0, again.err);
    assert.deepEqual(requests, []);
  });

  test('a URL that does not exist fails at once with the URL and status', async () => {
    lab.seed(v(1));
    lab.writeRepo((type) => ({ url: `${base}/missing-${type}.mender`, name: `${type}-v2`, sha256: 'cd'.repeat(32) }));
    const r = await lab.apply();
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /missing-(gateway|rtos)\.mender does not exist \(HTTP 404\)/);
    assert.deepEqual(lab.running(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' });
  });
});
