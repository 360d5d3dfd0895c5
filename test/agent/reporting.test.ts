// The agent's reports as bad input meets them: a hub url without a token, a token file that is
// not there, and a hub that accepts connections and never answers — the agent applies its commit
// all the same, keeps the verdict in its outbox, and stops at once on SIGTERM.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { reportEvents } from '../../src/report/index.js';
import type { AgentProcess } from '../helpers/agent-process.js';
import { rollgate } from '../helpers/cli.js';
import { requireMenderTools } from '../helpers/devices.js';
import { FleetLab } from '../helpers/fleet-lab.js';
import { tempDir } from '../helpers/fixtures.js';
import { selfSignedCert } from '../helpers/tls.js';

const missing = requireMenderTools();

describe('reporting to a hub, as the agent meets bad input', { skip: missing ?? false }, () => {
  let lab: FleetLab;
  let agent: AgentProcess | undefined;
  let silent: Server;
  const sockets: Socket[] = [];
  let silentUrl = '';

  before(async () => {
    lab = new FleetLab();
    lab.seed((t) => `${t}-v1`);
    lab.init();
    await lab.serve();
    // A hub that takes the connection and then says nothing, ever.
    silent = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    silentUrl = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
  });
  after(async () => {
    await agent?.kill();
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
    await lab.server.close();
    lab.close();
  });

  test('a hub url without a token file stops the agent at start, naming the setting', async () => {
    const a = lab.agent({}, ['--report-url', silentUrl]);
    const { code } = await a.exited;
    assert.notEqual(code, 0);
    assert.match(a.text(), /report\.url is set and report\.tokenFile is not/);
    assert.match(a.text(), /rollgate hub gateway add gw-test/);
  });

  test('a token file that cannot be read is named, and its content never shown', async () => {
    const a = lab.agent({}, ['--report-url', silentUrl, '--report-token-file', join(lab.root, 'no-such-token')]);
    await a.exited;
    assert.match(a.text(), /cannot read the hub token file .*no-such-token \(report\.tokenFile\)/);
    const two = join(lab.root, 'two-tokens');
    writeFileSync(two, 'rgw_first secret-part\n');
    const b = lab.agent({}, ['--report-url', silentUrl, '--report-token-file', two]);
    await b.exited;
    assert.match(b.text(), /must hold one token/);
    assert.doesNotMatch(b.text(), /secret-part/);
  });

  test('a token is not sent over plain http to another machine, unless allowed on purpose', async () => {
    const token = join(lab.root, 'plain-token');
    writeFileSync(token, 'rgw_some-token\n', { mode: 0o600 });
    const a = lab.agent({}, ['--report-url', 'http://192.0.2.10:9480', '--report-token-file', token]);
    const { code } = await a.exited;
    assert.notEqual(code, 0);
    assert.match(a.text(), /refusing to send this gateway's hub token to 192\.0\.2\.10:9480 over plain http/);
    assert.match(a.text(), /--report-allow-plain-http/);
    assert.doesNotMatch(a.text(), /rgw_some-token/);
  });

  test('a hub that answers with the token it was sent: the log and rollgate status hold none of it', async () => {
    const token = 'rgw_echoed-Back-Token-5521';
    const file = join(lab.root, 'echo-token');
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    let refused = 0;
    // A proxy in front of the hub that quotes the request it refuses, as such proxies do.
    const echo = createHttpServer((req, res) => {
      req.resume();
      const auth = String(req.headers.authorization);
      const status = refused++ < 2 ? 401 : 503;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `not accepted: ${auth} (${Buffer.from(auth).toString('base64')})` }));
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(echo.address() as { port: number }).port}`;
    const a = lab.agent({}, ['--interval', '1s', '--report-url', url, '--report-token-file', file]);
    try {
      await a.waitForLog(/the hub refuses this gateway's token \(401: not accepted: Bearer \[redacted\]/);
      await a.waitForLog(/the hub at .* is out of reach \(503: not accepted: Bearer \[redacted\]/);
      const st = await rollgate('status', '--state-dir', lab.stateDir, '--output', 'json');
      const outage = (JSON.parse(st.out) as { agent: { report: { outage?: { error: string } } } }).agent.report.outage;
      assert.match(String(outage?.error), /not accepted: Bearer \[redacted\]/);
      const human = await rollgate('status', '--state-dir', lab.stateDir);
      for (const text of [a.text(), JSON.stringify(a.logs), st.out, human.out])
        for (const form of [token, Buffer.from(`Bearer ${token}`).toString('base64')])
          assert.ok(!text.includes(form), `${form} is in:\n${text}`);
    } finally {
      await a.stop();
      echo.closeAllConnections();
      await new Promise((r) => echo.close(r));
    }
  });

  test('report.caFile adds a CA to those the system trusts: a hub another trusted CA signed is reached', async () => {
    // The hub's certificate is trusted through NODE_EXTRA_CA_CERTS; report.caFile names an unrelated private CA.
    const hubCert = selfSignedCert(tempDir('rollgate-hubca-'));
    const other = selfSignedCert(tempDir('rollgate-otherca-'));
    const seen: string[] = [];
    const hub = createHttpsServer({ key: readFileSync(hubCert.key), cert: readFileSync(hubCert.crt) }, (req, res) => {
      seen.push(`${req.method} ${req.url}`);
      req.resume();
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"error":"busy"}');
    });
    await new Promise<void>((r) => hub.listen(0, '127.0.0.1', () => r()));
    const url = `https://127.0.0.1:${(hub.address() as { port: number }).port}`;
    const token = join(lab.root, 'ca-token');
    writeFileSync(token, 'rgw_ca-test\n', { mode: 0o600 });
    const a = lab.agent({ NODE_EXTRA_CA_CERTS: hubCert.crt }, [
      '--report-url',
      url,
      '--report-token-file',
      token,
      '--report-ca-file',
      other.crt,
    ]);
    try {
      await a.waitForLog(/the hub at .* is out of reach \(503/);
      assert.ok(
        seen.some((r) => r.startsWith('POST ')),
        `no report reached the hub: ${seen.join(', ')}`,
      );
      assert.doesNotMatch(a.text(), /self-signed certificate/);
    } finally {
      await a.stop();
      hub.closeAllConnections();
      await new Promise((r) => hub.close(r));
    }
  });

  test(
    'a hub that never answers holds nothing up: the commit is applied, its verdict waits in the outbox',
    { timeout: 25_000 },
    async () => {
      const token = join(lab.root, 'hub-token');
      writeFileSync(token, 'rgw_some-token\n', { mode: 0o600 });
      lab.write('v2', true);
      const c = lab.commit('system v2');
      lab.push();
      agent = lab.agent({}, ['--interval', '1s', '--report-url', silentUrl, '--report-token-file', token]);
      const s = await agent.until('v2 applied', (x) => x.lastGood?.commit === c);
      assert.equal(s.applied?.commit, c);
      lab.expectSettled('v2');
      const kept = outboxEvents(lab.stateDir);
      assert.ok(
        kept.some((e) => e.verdict === 'applied' && e.commit === c),
        `the verdict is kept for the hub: ${JSON.stringify(kept)}`,
      );
      // SIGTERM while a report hangs: the agent does not wait out the request.
      const { code } = await agent.stop();
      assert.equal(code, 0, agent.text());
      assert.doesNotMatch(agent.text(), /"level":"error"|^error /m);
    },
  );

  test(
    'the agent killed while its worker applies: the worker runs on, and its verdict still waits in the outbox',
    { timeout: 90_000 },
    async () => {
      const token = join(lab.root, 'hub-token-killed');
      writeFileSync(token, 'rgw_some-token\n', { mode: 0o600 });
      lab.write('v3', true);
      const c = lab.commit('system v3');
      lab.push();
      const killed = lab.agent(
        {
          ROLLGATE_CRASH_AT: 'finalize:1',
          ROLLGATE_CRASH_KILLS: 'parent',
          ROLLGATE_CRASH_ONCE: join(lab.root, 'crashed-parent-finalize'),
        },
        ['--interval', '1h', '--report-url', silentUrl, '--report-token-file', token],
      );
      const ended = await killed.exited;
      assert.equal(ended.signal, 'SIGKILL', killed.text());
      // Nobody is left to hear the worker's verdict: the worker finishes the commit and records it alone.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const s = killed.state();
        if (s?.lastGood?.commit === c && !existsSync(join(lab.stateDir, 'journal.json'))) break;
        assert.ok(Date.now() < deadline, `the worker did not finish v3 alone: ${JSON.stringify(s)}`);
        await sleep(150);
      }
      lab.expectSettled('v3');
      const kept = outboxEvents(lab.stateDir);
      assert.ok(
        kept.some((e) => e.verdict === 'applied' && e.commit === c),
        `the verdict of the commit the worker applied alone is kept for the hub: ${JSON.stringify(kept)}`,
      );
      // The next agent starts with it in its outbox, to send when the hub answers.
      agent = lab.agent({}, ['--interval', '1h', '--report-url', silentUrl, '--report-token-file', token]);
      await agent.waitForLog(/event\(s\) from before wait for the hub/);
      assert.equal((await agent.stop()).code, 0, agent.text());
    },
  );

  /** Waits until every verdict the state recorded since `since` that the hub hears of is in the outbox. */
  const everyVerdictInOutbox = async (since: string) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const st = agent!.state()!;
      const want = reportEvents(
        st.history.filter((h) => h.at >= since),
        st,
      );
      const have = new Set(outboxEvents(lab.stateDir).map((e) => e.id));
      const lost = want.filter((e) => !have.has(e.id));
      if (lost.length === 0) return want;
      assert.ok(Date.now() < deadline, `not in the outbox: ${JSON.stringify(lost)}\n${agent!.text()}`);
      await sleep(150);
    }
  };

  for (const kills of ['worker', 'both'] as const)
    test(
      `killed (${kills === 'worker' ? 'the worker alone' : 'the agent and its worker'}) between the state and ` +
        'the outbox: the verdict still reaches the outbox, once',
      { timeout: 120_000 },
      async () => {
        await agent?.kill();
        const token = join(lab.root, `hub-token-${kills}`);
        writeFileSync(token, 'rgw_some-token\n', { mode: 0o600 });
        const args = ['--interval', '1s', '--report-url', silentUrl, '--report-token-file', token];
        const since = new Date().toISOString();
        lab.write(kills === 'worker' ? 'v4' : 'v5', true);
        const c = lab.commit(`system ${kills}`);
        lab.push();
        const env = {
          ROLLGATE_CRASH_AT: 'state-recorded:1',
          ROLLGATE_CRASH_KILLS: kills,
          ROLLGATE_CRASH_ONCE: join(lab.root, `crashed-state-recorded-${kills}`),
        };
        agent = lab.agent(env, args);
        if (kills === 'both') {
          const ended = await agent.exited;
          assert.equal(ended.signal, 'SIGKILL', agent.text());
          assert.ok(existsSync(env.ROLLGATE_CRASH_ONCE), 'killed at the point');
          agent = lab.agent({}, args);
          await agent.waitForLog(/verdict\(s\) recorded before a kill were put in the outbox/);
        } else {
          await agent.waitForLog(/verdict\(s\) the worker recorded before it died were put in the outbox/);
        }
        await agent.until('the commit applied', (x) => x.lastGood?.commit === c);
        const want = await everyVerdictInOutbox(since);
        assert.ok(
          want.some((e) => e.verdict === 'applied' && e.commit === c),
          'the apply is among them',
        );
        const ids = outboxEvents(lab.stateDir).map((e) => e.id);
        assert.equal(new Set(ids).size, ids.length, 'no event is in the outbox twice');
        assert.equal((await agent.stop()).code, 0, agent.text());
      },
    );
});

/** The events in a state directory's outbox, oldest first. */
function outboxEvents(stateDir: string): { id: string; verdict: string; commit?: string }[] {
  const dir = join(stateDir, 'outbox');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as { id: string; verdict: string; commit?: string });
}
