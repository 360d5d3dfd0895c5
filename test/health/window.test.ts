// The health window against real servers and commands: required and advisory checks, flapping,
// hanging commands and the children they leave, container checks through the Engine's view.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer as httpServer, type Server } from 'node:http';
import { createServer as tcpServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { healthWindow } from '../../src/health/index.js';
import type { HealthCheck, HealthSpec } from '../../src/model/index.js';
import { silentLog } from '../../src/base/log.js';
import { tempDirs } from '../helpers/temp-dirs.js';
import { running } from '../helpers/proc.js';

const dir = tempDirs('rollgate-agent-parts-');

describe('the health window (real servers and commands)', () => {
  const servers: Server[] = [];
  after(() => servers.forEach((s) => s.close()));
  const base = { required: true, intervalMs: 50, timeoutMs: 500, failureThreshold: 3 };
  const spec = (checks: HealthCheck[], windowMs = 300, deadlineMs = 5_000): HealthSpec => ({
    windowMs,
    deadlineMs,
    checks,
  });

  async function http(handler: (n: number) => number): Promise<number> {
    let n = 0;
    const s = httpServer((_, res) => {
      res.writeHead(handler(++n));
      res.end();
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as { port: number }).port;
  }

  test(
    'passes once every required check held for the window; advisory failures are reported, not ' + 'decisive',
    async () => {
      const port = await http(() => 200);
      const tcp = tcpServer(() => {});
      await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
      const tcpPort = (tcp.address() as { port: number }).port;
      const v = await healthWindow(
        spec([
          { ...base, name: 'api', kind: 'http', url: `http://127.0.0.1:${port}/`, expectStatus: [200] },
          { ...base, name: 'broker', kind: 'tcp', host: '127.0.0.1', port: tcpPort },
          { ...base, name: 'ok-cmd', kind: 'command', argv: ['true'] },
          { ...base, name: 'uplink', required: false, kind: 'tcp', host: '127.0.0.1', port: 1 },
        ]),
        {},
        { log: silentLog },
      );
      tcp.close();
      assert.equal(v.ok, true, v.reason);
      assert.ok(v.checks.find((c) => c.name === 'api')!.passes >= 2, 'checked more than once during the window');
      assert.equal(v.warnings.length, 1);
      assert.match(v.warnings[0]!, /^uplink: 127\.0\.0\.1:1: ECONNREFUSED/);
    },
  );

  test(
    'a required check failing threshold times in a row fails the window, naming the check and what it ' + 'saw',
    async () => {
      const port = await http((n) => (n <= 1 ? 200 : 503));
      const v = await healthWindow(
        spec([{ ...base, name: 'api', kind: 'http', url: `http://127.0.0.1:${port}/`, expectStatus: [200] }], 10_000),
        {},
        { log: silentLog },
      );
      assert.equal(v.ok, false);
      assert.match(
        v.reason!,
        /^api failed 3 time\(s\) in a row: http:\/\/127\.0\.0\.1:\d+\/ answered HTTP 503, expected 200$/,
      );
    },
  );

  test('a flapping check never holds for the window: the deadline fails it instead of waiting forever', async () => {
    const port = await http((n) => (n % 2 === 0 ? 500 : 200));
    const v = await healthWindow(
      spec(
        [{ ...base, name: 'flappy', kind: 'http', url: `http://127.0.0.1:${port}/`, expectStatus: [200] }],
        400,
        1_000,
      ),
      {},
      { log: silentLog },
    );
    assert.equal(v.ok, false);
    assert.match(v.reason!, /did not hold for 400 ms within the deadline of 1s/);
  });

  test('a command that hangs is killed at its timeout, and its output is in the reason', async () => {
    const v = await healthWindow(
      spec([
        {
          ...base,
          failureThreshold: 1,
          timeoutMs: 200,
          name: 'hang',
          kind: 'command',
          argv: ['sh', '-c', 'echo still thinking; exec sleep 30'],
        },
      ]),
      {},
      { log: silentLog },
    );
    assert.equal(v.ok, false);
    assert.match(
      v.reason!,
      /sh -c echo still thinking; exec sleep 30 ran longer than 200 ms and was killed; it printed: still thinking/,
    );
    const v2 = await healthWindow(
      spec([{ ...base, failureThreshold: 1, name: 'missing', kind: 'command', argv: ['/nonexistent/probe'] }]),
      {},
      { log: silentLog },
    );
    assert.match(v2.reason!, /\/nonexistent\/probe: ENOENT/);
  });

  test('a command that passes but leaves a child holding its output passes, and the child is ended', async () => {
    const d = dir();
    const pidFile = join(d, 'child.pid');
    const v = await healthWindow(
      spec([
        {
          ...base,
          failureThreshold: 1,
          timeoutMs: 5_000,
          name: 'leaves-child',
          kind: 'command',
          argv: ['sh', '-c', `sleep 1000 & echo $! > ${pidFile}; echo ok`],
        },
      ]),
      { stateDir: d },
      { log: silentLog },
    );
    assert.equal(v.ok, true, v.reason);
    const child = Number(readFileSync(pidFile, 'utf8'));
    for (let i = 0; i < 50 && running(child); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(running(child), false, 'the child is ended');
    // A check may still be in flight when the window passed; it ends within its timeout.
    for (let i = 0; i < 100 && readdirSync(join(d, 'processes')).length; i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(readdirSync(join(d, 'processes')), [], 'nothing of the checks is left on record');
  });

  test('a container check asks the Engine through the given view and wants the desired configuration', async () => {
    const containers = { service: async () => [{ running: true, configHash: 'old', health: 'healthy' }] };
    const v = await healthWindow(
      spec([
        {
          ...base,
          failureThreshold: 1,
          name: 'web',
          kind: 'container',
          app: 'a',
          service: 'web',
          condition: 'healthy',
        },
      ]),
      { containers, configHashes: new Map([['a/web', 'new']]) },
      { log: silentLog },
    );
    assert.match(v.reason!, /a\/web: no container of the desired configuration/);
    const ok = await healthWindow(
      spec([{ ...base, name: 'web', kind: 'container', app: 'a', service: 'web', condition: 'healthy' }]),
      { containers, configHashes: new Map([['a/web', 'old']]) },
      { log: silentLog },
    );
    assert.equal(ok.ok, true);
  });

  test('a healthcheck still starting is no failure: the check waits, and only the deadline fails it', async () => {
    let calls = 0;
    const starting = {
      service: async () => [{ running: true, configHash: 'h', health: ++calls <= 4 ? 'starting' : 'healthy' }],
    };
    const check: HealthCheck = {
      ...base,
      failureThreshold: 1,
      name: 'web',
      kind: 'container',
      app: 'a',
      service: 'web',
      condition: 'healthy',
    };
    const hashes = new Map([['a/web', 'h']]);
    const v = await healthWindow(spec([check]), { containers: starting, configHashes: hashes }, { log: silentLog });
    assert.equal(v.ok, true, v.reason);
    assert.ok(calls > 4, 'it asked again while the container was starting');
    const never = { service: async () => [{ running: true, configHash: 'h', health: 'starting' }] };
    const late = await healthWindow(
      spec([check], 300, 600),
      { containers: never, configHashes: hashes },
      { log: silentLog },
    );
    assert.equal(late.ok, false);
    assert.match(late.reason!, /within the deadline of 600 ms \(failing: web: a\/web is starting/);
  });
});
