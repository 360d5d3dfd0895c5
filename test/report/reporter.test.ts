// The reporter against a real hub (embedded database, real HTTP on loopback): events delivered
// once, a dead hub a single warning while events wait on disk, the backlog delivered when the hub
// comes up on the same address, overflow counted as lost at the hub, a refused token named, and
// one event the hub will never take dropped without holding the others back; an outbox file that
// cannot be sent set aside once; NULs cleaned before they reach the hub; and a report refused as
// a whole costing no event.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { addGateway, addToken, Hub, openDatabase } from '../../src/hub/index.js';
import { Outbox, Reporter } from '../../src/report/index.js';
import { tempDir } from '../helpers/fixtures.js';
import { call, sha, status, verdict } from '../helpers/hub.js';
import { Lines } from '../helpers/log-lines.js';
import { selfSignedCert } from '../helpers/tls.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface Setup {
  dataDir: string;
  token: string;
  reader: string;
}

async function prepare(gateway = 'gw-1'): Promise<Setup> {
  const dataDir = join(tempDir('rollgate-hub-'), 'data');
  const db = await openDatabase({ dataDir });
  const { migrate } = await import('../../src/hub/index.js');
  await migrate(db);
  const token = await addGateway(db, gateway);
  const reader = await addToken(db, 'reader', 'r');
  await db.close();
  return { dataDir, token, reader };
}

const startHub = async (s: Setup, port: number) =>
  Hub.start({ db: await openDatabase({ dataDir: s.dataDir }), log: new Lines(), listen: `127.0.0.1:${port}` });

function reporter(url: string, token: string, outbox: Outbox, log: Lines): Reporter {
  return new Reporter({
    url,
    token,
    gateway: 'gw-1',
    heartbeatMs: 60_000,
    outbox,
    log,
    status: async () => status({ ready: 'True' }),
    backoffMs: 50,
    maxBackoffMs: 200,
    timeoutMs: 5_000,
  });
}

test('verdicts reach the hub once, and leave the outbox only then', async () => {
  const s = await prepare();
  const hub = await startHub(s, 0);
  const outbox = await Outbox.open(join(tempDir(), 'outbox'), 1 << 20);
  const log = new Lines();
  const r = reporter(hub.url, s.token, outbox, log);
  try {
    r.start();
    const events = [verdict('applied', sha(1)), verdict('rolled-back', sha(2), { reason: 'health-failed' })];
    await r.record(events);
    await until('the outbox is empty', () => outbox.size === 0);
    const got = (await call(hub.url, 'GET', '/api/v1/events', { token: s.reader })).body['items'] as { id: string }[];
    assert.deepEqual(
      got.map((e) => e.id),
      events.map((e) => e.id),
    );
    const gw = (await call(hub.url, 'GET', '/api/v1/gateways/gw-1', { token: s.reader })).body;
    assert.deepEqual(gw['conditions'], { Ready: 'True' });
  } finally {
    await r.stop();
    await hub.stop();
  }
});

test('a hub whose host does not resolve is named, with what to check', async () => {
  const log = new Lines();
  const outbox = await Outbox.open(join(tempDir(), 'outbox'), 1 << 20);
  const r = reporter('https://hub.nonexistent.invalid:9480', 'rgw_t', outbox, log);
  r.start();
  try {
    await r.record([verdict('applied', sha(1))]);
    await until('a warning', () => /out of reach/.test(log.text));
    // .invalid never resolves (RFC 2606); without any DNS server the lookup fails too, with EAI_AGAIN.
    assert.match(
      log.text,
      new RegExp(
        'out of reach \\(the host name hub\\.nonexistent\\.invalid (does not resolve \\(ENOTFOUND\\): check the ' +
          'host in the URL|could not be resolved: no DNS server answered)',
      ),
    );
  } finally {
    await r.stop();
  }
});

test('a dead hub is one warning; the backlog waits on disk and goes when the hub is back, nothing twice', async () => {
  const s = await prepare();
  const port = await freePort();
  const dir = join(tempDir(), 'outbox');
  const log = new Lines();
  let outbox = await Outbox.open(dir, 2000);
  let r = reporter(`http://127.0.0.1:${port}`, s.token, outbox, log);
  r.start();
  const all = Array.from({ length: 12 }, (_, i) => verdict('applied', sha(i), { detail: 'd'.repeat(200) }));
  await r.record(all.slice(0, 6));
  await until('a warning', () => /out of reach/.test(log.text));
  await sleep(600); // several retries
  assert.equal(log.text.match(/out of reach/g)?.length, 1, `one warning per outage:\n${log.text}`);
  assert.match(log.text, /the gateway goes on, and \d+ event\(s\) wait in the outbox/);
  // The agent restarts while the hub is down: the outbox is read back from disk.
  await r.stop();
  outbox = await Outbox.open(dir, 2000);
  r = reporter(`http://127.0.0.1:${port}`, s.token, outbox, log);
  r.start();
  await r.record(all.slice(6));
  const kept = outbox.size;
  const lost = outbox.lost;
  assert.ok(lost > 0 && kept + lost === 12, `kept ${kept}, lost ${lost}`);
  const hub = await startHub(s, port);
  try {
    await until('the backlog is delivered', () => outbox.size === 0 && outbox.lost === 0);
    const got = (await call(hub.url, 'GET', '/api/v1/events?limit=100', { token: s.reader })).body['items'] as {
      id: string;
    }[];
    assert.deepEqual(
      got.map((e) => e.id),
      all.slice(12 - kept).map((e) => e.id),
      'the newest events, in order, once each',
    );
    const gw = (await call(hub.url, 'GET', '/api/v1/gateways/gw-1', { token: s.reader })).body;
    assert.equal(gw['lostEvents'], lost, 'the hub is told how many were dropped');
    await until('the recovery is logged', () => /the hub answers again/.test(log.text));
  } finally {
    await r.stop();
    await hub.stop();
  }
});

test('a token the hub refuses is an error that names the fix, and the events stay', async () => {
  const s = await prepare();
  const hub = await startHub(s, 0);
  const outbox = await Outbox.open(join(tempDir(), 'outbox'), 1 << 20);
  const log = new Lines();
  const r = reporter(hub.url, 'rgw_not-this-one', outbox, log);
  try {
    r.start();
    await r.record([verdict('applied', sha(1))]);
    await until('the error', () => /refuses this gateway's token/.test(log.text));
    assert.match(log.text, /rollgate hub gateway add gw-1/);
    assert.equal(outbox.size, 1);
  } finally {
    await r.stop();
    await hub.stop();
  }
});

test('an event the hub will never take is dropped and counted, and the ones after it go', async () => {
  const s = await prepare();
  const hub = await startHub(s, 0);
  const dir = join(tempDir(), 'outbox');
  const first = await Outbox.open(dir, 1 << 20);
  const good = [verdict('applied', sha(1)), verdict('applied', sha(2))];
  await first.add(good[0]!);
  // Written by some other version, say: a verdict this hub does not know.
  await first.add({ ...verdict('applied', sha(3)), verdict: 'teleported' as 'applied' });
  await first.add(good[1]!);
  const outbox = await Outbox.open(dir, 1 << 20);
  const log = new Lines();
  const r = reporter(hub.url, s.token, outbox, log);
  try {
    r.start();
    await until('the outbox is empty', () => outbox.size === 0 && outbox.lost === 0, 20_000);
    const got = (await call(hub.url, 'GET', '/api/v1/events', { token: s.reader })).body['items'] as { id: string }[];
    assert.deepEqual(
      got.map((e) => e.id),
      good.map((e) => e.id),
    );
    assert.match(
      log.text,
      /the hub refuses the teleported event .*verdict must be equal to one of the allowed .*dropped and counted/,
    );
    const gw = (await call(hub.url, 'GET', '/api/v1/gateways/gw-1', { token: s.reader })).body;
    assert.equal(gw['lostEvents'], 1);
  } finally {
    await r.stop();
    await hub.stop();
  }
});

test('over HTTPS, the hub is trusted through report.caFile and reports arrive', async () => {
  const { key, crt } = selfSignedCert(tempDir());
  const s = await prepare();
  const hub = await Hub.start({
    db: await openDatabase({ dataDir: s.dataDir }),
    log: new Lines(),
    listen: '127.0.0.1:0',
    tls: { cert: readFileSync(crt, 'utf8'), key: readFileSync(key, 'utf8') },
  });
  assert.match(hub.url, /^https:/);
  const log = new Lines();
  const untrusting = await Outbox.open(join(tempDir(), 'outbox'), 1 << 20);
  const plain = reporter(hub.url, s.token, untrusting, log);
  const outbox = await Outbox.open(join(tempDir(), 'outbox'), 1 << 20);
  const trusting = new Reporter({
    url: hub.url,
    token: s.token,
    ca: readFileSync(crt, 'utf8'),
    gateway: 'gw-1',
    heartbeatMs: 60_000,
    outbox,
    log: new Lines(),
    status: async () => status(),
  });
  try {
    plain.start();
    await plain.record([verdict('applied', sha(1))]);
    await until('the untrusted certificate is named', () => /out of reach \(self-signed certificate/.test(log.text));
    assert.equal(untrusting.size, 1);
    trusting.start();
    await trusting.record([verdict('applied', sha(2))]);
    await until('delivered over HTTPS', () => outbox.size === 0);
  } finally {
    await plain.stop();
    await trusting.stop();
    await hub.stop();
  }
});

test('an outbox file whose name and content disagree is set aside once, and never sent again and again', async () => {
  const s = await prepare();
  const hub = await startHub(s, 0);
  const dir = join(tempDir(), 'outbox');
  const first = await Outbox.open(dir, 1 << 20);
  const good = verdict('applied', sha(1));
  await first.add(good);
  const stray = verdict('applied', sha(2));
  // A copy made by hand, or by a backup tool: the name says one event, the content another.
  writeFileSync(join(dir, `000000000000001-000000-${Outbox.newId()}.json`), JSON.stringify(stray));
  const outbox = await Outbox.open(dir, 1 << 20);
  const log = new Lines();
  const r = reporter(hub.url, s.token, outbox, log);
  try {
    r.start();
    await until('the outbox is delivered', () => outbox.size === 0 && outbox.lost === 0);
    const got = (await call(hub.url, 'GET', '/api/v1/events', { token: s.reader })).body['items'] as { id: string }[];
    assert.deepEqual(
      got.map((e) => e.id),
      [good.id],
    );
    assert.equal(log.text.match(/cannot be sent and is set aside/g)?.length, 1, log.text);
    assert.match(log.text, /its name says event .* and its content event/);
    assert.equal(readdirSync(join(dir, 'rejected')).length, 1);
    assert.ok(r.delivered <= 3, `${r.delivered} reports for two events and a lost count`);
    const gw = (await call(hub.url, 'GET', '/api/v1/gateways/gw-1', { token: s.reader })).body;
    assert.equal(gw['lostEvents'], 1);
  } finally {
    await r.stop();
    await hub.stop();
  }
});

test('a NUL from an interface, in an event or in the status, reaches the hub as U+FFFD', async () => {
  const s = await prepare();
  const hub = await startHub(s, 0);
  const outbox = await Outbox.open(join(tempDir(), 'outbox'), 1 << 20);
  const r = new Reporter({
    url: hub.url,
    token: s.token,
    gateway: 'gw-1',
    heartbeatMs: 60_000,
    outbox,
    log: new Lines(),
    status: async () => status({ lastError: { at: new Date().toISOString(), message: 'install failed\u0000!' } }),
    backoffMs: 50,
  });
  try {
    r.start();
    const e = verdict('rolled-back', sha(2), {
      reason: 'apply-failed',
      to: sha(1),
      detail: 'stderr: boom\u0000\uDC00',
    });
    await r.record([e]);
    await until('the outbox is empty', () => outbox.size === 0);
    const gw = (await call(hub.url, 'GET', '/api/v1/gateways/gw-1', { token: s.reader })).body as {
      history: { id: string; detail: string }[];
      status: { lastError: { message: string } };
    };
    assert.deepEqual(
      gw.history.map((h) => [h.id, h.detail]),
      [[e.id, 'stderr: boom\uFFFD\uFFFD']],
    );
    assert.equal(gw.status.lastError.message, 'install failed\uFFFD!');
  } finally {
    await r.stop();
    await hub.stop();
  }
});

test('a report the hub refuses as a whole costs no event: they wait, and go once it is fixed', async () => {
  const s = await prepare();
  const hub = await startHub(s, 0);
  const outbox = await Outbox.open(join(tempDir(), 'outbox'), 1 << 20);
  const log = new Lines();
  let broken = true;
  const r = new Reporter({
    url: hub.url,
    token: s.token,
    gateway: 'gw-1',
    heartbeatMs: 60_000,
    outbox,
    log,
    // A status the hub cannot take (as a newer agent's might be to an older hub).
    status: async () => status(broken ? { head: 'not-a-commit' } : {}),
    backoffMs: 20,
    maxBackoffMs: 50,
  });
  try {
    r.start();
    const events = [verdict('applied', sha(1)), verdict('rolled-back', sha(2), { reason: 'health-failed' })];
    await r.record(events);
    await until('the refusal is said', () => /the hub refuses this gateway's reports/.test(log.text));
    await sleep(300); // several tries
    assert.equal(log.text.match(/the hub refuses this gateway's reports/g)?.length, 1, log.text);
    assert.match(log.text, /status\.head must match pattern/);
    assert.equal(outbox.size, 2, 'no event was dropped');
    assert.equal(outbox.lost, 0);
    broken = false;
    r.kick();
    await until('delivered', () => outbox.size === 0);
    const got = (await call(hub.url, 'GET', '/api/v1/events', { token: s.reader })).body['items'] as { id: string }[];
    assert.deepEqual(
      got.map((e) => e.id),
      events.map((e) => e.id),
    );
  } finally {
    await r.stop();
    await hub.stop();
  }
});
