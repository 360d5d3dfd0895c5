// Webhooks that cannot be turned against the people they notify: a URL with credentials is
// refused at start (naming the webhook, never the password) and never logged, not even one an
// older hub queued; what a gateway says reaches a chat channel as words — no mention fires, no
// link is clickable — while the JSON fields for machines stay exactly what the gateway sent.
// A round of the jobs asked for while one is sending waits for it, then sends what came in meanwhile.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { HubConfigError, readHubConfig } from '../../src/hub/index.js';
import { chatText } from '../../src/hub/webhook-body.js';
import { tempDir } from '../helpers/fixtures.js';
import { hubDatabases, lab, report, sha, status, verdict, WebhookReceiver } from '../helpers/hub.js';

const dbs = await hubDatabases();
after(() => dbs.stop());

test('a webhook URL with credentials is refused at start, named by webhook and host, never by password', async () => {
  const dir = tempDir();
  for (const url of ['https://ops:hunter2@hooks.example.com/services/T0/B0/X', 'https://hunter2@hooks.example.com/x']) {
    const file = join(dir, 'hub.yaml');
    writeFileSync(file, `webhooks:\n  - url: https://ok.example.com/a\n  - url: ${url}\n`);
    await assert.rejects(readHubConfig(file), (err: unknown) => {
      assert.ok(err instanceof HubConfigError);
      assert.match(err.message, /webhooks\[1\]\.url \(to hooks\.example\.com\) has credentials in it/);
      assert.doesNotMatch(err.message, /hunter2/);
      return true;
    });
  }
  writeFileSync(join(dir, 'bad.yaml'), 'webhooks:\n  - url: "http://[::1"\n');
  await assert.rejects(
    readHubConfig(join(dir, 'bad.yaml')),
    /webhooks\[0\]\.url must be an http:\/\/ or https:\/\/ URL/,
  );
});

test('chat markup is neutralised: mentions broken, <, > and & escaped, no link left to click', () => {
  const ZW = '\u200B';
  const table: [string, string][] = [
    ['<!channel> look', `&lt;!channel&gt; look`],
    ['<!here|here>', '&lt;!here|here&gt;'],
    ['<@U123>', `&lt;@${ZW}U123&gt;`],
    ['<http://evil.example|click here>', `&lt;http:${ZW}//evil.${ZW}example|click here&gt;`],
    ['[click](https://evil.example/x)', `[click]${ZW}(https:${ZW}//evil.${ZW}example/x)`],
    ['@everyone @here @channel @all', `@${ZW}everyone @${ZW}here @${ZW}channel @${ZW}all`],
    ['a & b', 'a &amp; b'],
    ['failed: \u202Eko si lla\u202C) to abc', 'failed: &lt;U+202E&gt;ko si lla&lt;U+202C&gt;) to abc'],
    ['\u2067isolate left open \u200F7', '&lt;U+2067&gt;isolate left open &lt;U+200F&gt;7'],
    ['&lt; stays text', '&amp;lt; stays text'],
    ['see www.evil.com', `see www.${ZW}evil.${ZW}com`],
    [
      'check mqtt failed: connect ECONNREFUSED 127.0.0.1:1883',
      'check mqtt failed: connect ECONNREFUSED 127.0.0.1:1883',
    ],
  ];
  for (const [input, want] of table) assert.equal(chatText(input), want, input);
});

for (const kind of dbs.kinds)
  describe(`webhooks on ${kind.name}`, () => {
    test('what a gateway says reaches the channel as words; the JSON fields stay exact', async () => {
      const hook = new WebhookReceiver();
      await hook.start();
      const l = await lab(kind, { 'gw@here': {} }, { webhooks: [{ url: hook.url, events: ['rolled-back'] }] });
      try {
        const detail =
          'check failed: <!channel> <@U123> <http://evil.example|click> [x](http://evil.example/) @everyone a&b';
        const e = verdict('rolled-back', sha(2), { reason: 'health-failed', to: sha(1), detail });
        assert.equal((await l.post('gw@here', report('gw@here', status(), [e]))).status, 200);
        await l.hub.runJobs();
        assert.equal(hook.received.length, 1);
        const body = hook.received[0]!.body;
        assert.equal(body['detail'], detail, 'the machine field is exact');
        assert.equal(body['gateway'], 'gw@here');
        const text = String(body['text']);
        for (const raw of ['<!channel>', '<@U123>', '<http', '](http', '@everyone', '@here', 'http://', 'a&b'])
          assert.ok(!text.includes(raw), `${raw} is not in the text: ${text}`);
        assert.match(text, /&lt;!channel&gt;/);
        assert.match(text, /rolled back commit [0-9a-f]{12} \(health-failed: check failed/);
      } finally {
        await l.hub.stop();
        await hook.stop();
      }
    });

    test('no URL with credentials or a secret path is ever logged, not even one queued by an older hub', async () => {
      const hook = new WebhookReceiver(100); // it fails every delivery: each failure is logged
      await hook.start();
      const secretPath = `${hook.url}/T0SECRET/B0SECRET/XSECRET`;
      const l = await lab(
        kind,
        { 'gw-1': {} },
        { webhooks: [{ url: secretPath, events: ['rolled-back'] }], webhookBackoffMs: 1 },
      );
      try {
        const e = verdict('rolled-back', sha(2), { reason: 'health-failed', to: sha(1) });
        await l.post('gw-1', report('gw-1', status(), [e]));
        // Queued by a hub of before, whose configuration still took a password in the URL.
        const withPassword = hook.url.replace('http://', 'http://ops:hunter2@');
        await l.db.query(`insert into webhook_deliveries (url, kind, body) values ($1, 'rolled-back', '{}'::jsonb)`, [
          withPassword,
        ]);
        for (let i = 0; i < 3; i++) {
          await l.hub.runJobs();
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.match(
          l.log.text,
          /webhook to http:\/\/127\.0\.0\.1:\d+\/hook\/T0SECR… \(webhooks\[0\]\) failed \(HTTP 500\)/,
        );
        assert.match(l.log.text, /is no longer configured; dropped/);
        for (const secret of ['hunter2', 'ops:', 'SECRET/B0', 'XSECRET'])
          assert.doesNotMatch(l.log.text, new RegExp(secret), `the log never holds ${secret}`);
        assert.equal(hook.attempts >= 2, true, 'the configured webhook was tried');
        assert.equal(
          hook.attempts,
          await l.db
            .query<{ n: string }>('select sum(attempts) as n from webhook_deliveries where url = $1', [secretPath])
            .then((r) => Number(r[0]!.n)),
          'the one queued with a password was never sent',
        );
      } finally {
        await l.hub.stop();
        await hook.stop();
      }
    });

    test('a round of jobs asked for mid-round starts after it, and sends what came in meanwhile', async () => {
      // A receiver that holds its first answer until told: the first round stays in flight.
      const arrived: { commit: unknown; released: boolean }[] = [];
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      let isReleased = false;
      void released.then(() => (isReleased = true));
      const server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
          arrived.push({ commit: body['commit'], released: isReleased });
          if (arrived.length === 1) void released.then(() => res.writeHead(204).end());
          else res.writeHead(204).end();
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      const l = await lab(kind, { 'gw-1': {} }, { webhooks: [{ url, events: ['rolled-back'] }] });
      try {
        const event = (n: number) => verdict('rolled-back', sha(n), { reason: 'health-failed', to: sha(0) });
        await l.post('gw-1', report('gw-1', status(), [event(1)]));
        const first = l.hub.runJobs();
        while (arrived.length === 0) await new Promise((r) => setTimeout(r, 20));
        // Written while the first round is sending: a round asked for now must see it.
        await l.post('gw-1', report('gw-1', status(), [event(2)]));
        const second = l.hub.runJobs();
        // Long enough for a round that ran beside the first to have sent it already.
        await new Promise((r) => setTimeout(r, 300));
        release();
        await second;
        await first;
        assert.deepEqual(
          arrived.map((a) => [a.commit, a.released]),
          [
            [sha(1), false],
            [sha(2), true],
          ],
          'the second delivery went out only after the first round ended',
        );
        const pending = await l.db.query<{ n: string }>(
          'select count(*) as n from webhook_deliveries where delivered_at is null',
        );
        assert.equal(Number(pending[0]!.n), 0, 'when the round asked for ends, both are sent');
      } finally {
        release();
        await l.hub.stop();
        await new Promise((r) => server.close(r));
      }
    });
  });
