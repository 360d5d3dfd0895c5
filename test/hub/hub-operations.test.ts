// The hub on both databases, running: silence and webhooks, metrics, the OpenAPI document walked
// against the server, a restart that loses nothing, retention, migrations; and several hubs on one
// PostgreSQL (the database going away and coming back, the background jobs run once).

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { addGateway, addToken, Hub, migrate, MigrationError } from '../../src/hub/index.js';
import { Lines } from '../helpers/log-lines.js';
import { call, hubDatabases, lab, report, sha, status, verdict, WebhookReceiver } from '../helpers/hub.js';

const dbs = await hubDatabases();
after(() => dbs.stop());

for (const kind of dbs.kinds) {
  describe(`hub on ${kind.name}`, () => {
    test('webhooks: a rollback and a silent gateway are told, retried after a failure, signed', async () => {
      const hook = new WebhookReceiver(1);
      await hook.start();
      const l = await lab(
        kind,
        { 'gw-1': {}, 'gw-2': {} },
        {
          silentAfterMs: 400,
          webhookBackoffMs: 50,
          webhooks: [{ url: hook.url, events: ['rolled-back', 'silent'], secret: 's3cret' }],
        },
      );
      try {
        await l.post(
          'gw-1',
          report('gw-1', status(), [
            verdict('rolled-back', sha(5), { reason: 'health-failed', to: sha(4), detail: 'check mqtt failed' }),
            verdict('rejected', sha(6), { reason: 'invalid' }),
          ]),
        );
        await l.post('gw-2', report('gw-2', status()));
        await l.hub.runJobs(); // first delivery fails (500)
        assert.equal(hook.received.length, 0);
        assert.match(l.log.text, /webhook to .* failed \(HTTP 500\)/);
        await new Promise((r) => setTimeout(r, 500));
        await l.post('gw-1', report('gw-1', status())); // gw-1 keeps reporting; gw-2 went quiet
        await l.hub.runJobs();
        await l.hub.runJobs();
        const kinds = hook.received.map((h) => `${String(h.body['kind'])} ${String(h.body['gateway'])}`).sort();
        assert.deepEqual(kinds, ['rolled-back gw-1', 'silent gw-2'], 'rejections are not asked for here');
        const rb = hook.received.find((h) => h.body['kind'] === 'rolled-back')!;
        assert.equal(
          rb.body['text'],
          `gw-1 rolled back commit ${sha(5).slice(0, 12)} (health-failed: check mqtt failed) to ${sha(4).slice(0, 12)}`,
        );
        assert.equal(rb.signature, `sha256=${createHmac('sha256', 's3cret').update(rb.raw).digest('hex')}`);
        const gw2 = (await l.get('/api/v1/gateways/gw-2')).body;
        assert.equal(gw2['silent'], true);
        assert.deepEqual(
          ((await l.get('/api/v1/gateways?stale=true')).body['items'] as { id: string }[]).map((g) => g.id),
          ['gw-2'],
        );
        await l.hub.runJobs();
        assert.equal(hook.received.length, 2, 'each is delivered once');
        // Back: the silence ends, and the history says so.
        await l.post('gw-2', report('gw-2', status()));
        const back = (await l.get('/api/v1/gateways/gw-2')).body as { silent: boolean; history: { kind: string }[] };
        assert.equal(back.silent, false);
        assert.deepEqual(
          back.history.map((h) => h.kind),
          ['back', 'silent'],
        );
      } finally {
        await l.hub.stop();
        await hook.stop();
      }
    });

    test('metrics count gateways by condition and by commit; the OpenAPI document matches the server', async () => {
      const l = await lab(kind, { 'gw-1': {}, 'gw-2': {} });
      try {
        const at = new Date().toISOString();
        await l.post(
          'gw-1',
          report('gw-1', status({ ready: 'True', applied: { commit: sha(9), at } }), [verdict('applied', sha(9))]),
        );
        await l.post('gw-2', report('gw-2', status({ ready: 'False', applied: { commit: sha(8), at } })));
        const m = (await l.get('/metrics')).text;
        assert.match(m, /rollgate_hub_gateways_by_condition\{type="Ready",status="True"\} 1/);
        assert.match(m, /rollgate_hub_gateways_by_condition\{type="Ready",status="False"\} 1/);
        assert.match(m, new RegExp(`rollgate_hub_gateways_by_commit\\{commit="${sha(9)}"\\} 1`));
        assert.match(m, /rollgate_hub_gateways\{state="reporting"\} 2/);
        assert.match(m, /rollgate_hub_reports_total\{result="stored"\} 2/);
        const doc = (await l.get('/api/v1/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
        const fill = (p: string) => p.replace('{id}', 'gw-1').replace('{sha}', sha(9).slice(0, 9));
        const gets = Object.entries(doc.paths).filter(([, ops]) => 'get' in ops);
        assert.ok(gets.length >= 8);
        for (const [p] of gets) {
          const a = await l.get(fill(p));
          assert.equal(a.status, 200, `GET ${p}: ${a.text.slice(0, 200)}`);
        }
        const undocumented = await l.get('/api/v1/nothing');
        assert.equal(undocumented.status, 404);
        assert.match(String(undocumented.body['error']), /openapi\.json/);
      } finally {
        await l.hub.stop();
      }
    });

    test('a hub started again on the same database has everything; admin changes need admin', async () => {
      const fresh = await kind.fresh();
      const db = await fresh.open();
      const log = new Lines();
      let hub = await Hub.start({ db, log, listen: '127.0.0.1:0' });
      const token = await addGateway(db, 'gw-1');
      const reader = await addToken(db, 'reader', 'r');
      const admin = await addToken(db, 'admin', 'a');
      const e = verdict('applied', sha(3));
      await call(hub.url, 'POST', '/api/v1/reports', { token, body: report('gw-1', status(), [e]) });
      await hub.stop();
      hub = await Hub.start({ db: await fresh.open(), log, listen: '127.0.0.1:0' });
      try {
        const again = await call(hub.url, 'POST', '/api/v1/reports', { token, body: report('gw-1', status(), [e]) });
        assert.deepEqual(again.body['duplicates'], [e.id], 'the restarted hub still knows the event');
        const added = await call(hub.url, 'POST', '/api/v1/gateways', { token: reader, body: { id: 'gw-2' } });
        assert.equal(added.status, 403);
        const ok = await call(hub.url, 'POST', '/api/v1/gateways', {
          token: admin,
          body: { id: 'gw-2', labels: { a: 'b' } },
        });
        assert.equal(ok.status, 201);
        const gw2 = String(ok.body['token']);
        assert.equal(
          (await call(hub.url, 'POST', '/api/v1/reports', { token: gw2, body: report('gw-2', status()) })).status,
          200,
        );
        const dup = await call(hub.url, 'POST', '/api/v1/gateways', { token: admin, body: { id: 'gw-2' } });
        assert.equal(dup.status, 409);
        const rotated = await call(hub.url, 'POST', '/api/v1/gateways/gw-2/token', { token: admin });
        assert.equal(rotated.status, 200);
        await new Promise((r) => setTimeout(r, 10));
        const bad = await call(hub.url, 'POST', '/api/v1/gateways', { token: admin, body: { id: '../etc' } });
        assert.equal(bad.status, 400);
        assert.match(String(bad.body['error']), /not a gateway id/);
      } finally {
        await hub.stop();
      }
    });

    test('events past the retention are forgotten; what gateways run and their verdicts per commit stay', async () => {
      const l = await lab(kind, { 'gw-1': {} }, { retainMs: 300 });
      try {
        const at = new Date().toISOString();
        const old = verdict('rolled-back', sha(1), { reason: 'health-failed' });
        await l.post('gw-1', report('gw-1', status({ applied: { commit: sha(2), at } }), [old]));
        await new Promise((r) => setTimeout(r, 500));
        const recent = verdict('applied', sha(2));
        await l.post('gw-1', report('gw-1', status({ applied: { commit: sha(2), at } }), [recent]));
        await l.hub.runJobs();
        const events = (await l.get('/api/v1/events')).body['items'] as { id: string }[];
        assert.deepEqual(
          events.map((e) => e.id),
          [recent.id],
        );
        assert.match(l.log.text, /forgot 1 event\(s\) older than the retention/);
        const c1 = (await l.get(`/api/v1/commits/${sha(1)}`)).body;
        assert.equal(c1['rolledBack'], 1, 'the verdict per commit stays');
        assert.equal((await l.get('/api/v1/gateways/gw-1')).body['applied'], sha(2));
      } finally {
        await l.hub.stop();
      }
    });

    test('the schema is migrated once, and a database from a newer hub is refused by name', async () => {
      const fresh = await kind.fresh();
      const db = await fresh.open();
      try {
        assert.deepEqual(await migrate(db), [1, 2, 3, 4, 5, 6, 7]);
        assert.deepEqual(await migrate(db), []);
        await db.query("insert into schema_migrations (version, name) values (999, 'from the future')");
        await assert.rejects(migrate(db), (err: unknown) => {
          assert.ok(err instanceof MigrationError);
          assert.match(err.message, /schema version 999, newer than this rollgate hub knows \(7\)/);
          return true;
        });
      } finally {
        await db.close();
      }
    });
  });
}

describe('several hubs on one PostgreSQL', { skip: !dbs.postgres && 'PostgreSQL is not here' }, () => {
  test('PostgreSQL going away is a 503 the agent retries, and the hub goes on when it is back', async () => {
    const kind = dbs.kinds.find((k) => k.name === 'postgres')!;
    const fresh = await kind.fresh();
    const db = await fresh.open();
    const hub = await Hub.start({ db, log: new Lines(), listen: '127.0.0.1:0' });
    try {
      const token = await addGateway(db, 'gw-1');
      const send = (e: ReturnType<typeof verdict>) =>
        call(hub.url, 'POST', '/api/v1/reports', { token, body: report('gw-1', status(), [e]) });
      assert.equal((await send(verdict('applied', sha(1)))).status, 200);
      await dbs.postgres!.stop();
      const e = verdict('rolled-back', sha(2), { reason: 'health-failed' });
      const during = await send(e);
      assert.equal(during.status, 503, during.text);
      assert.match(String(during.body['error']), /the database does not answer/);
      assert.equal((await call(hub.url, 'GET', '/healthz')).status, 503);
      await dbs.postgres!.start();
      const after = await send(e);
      assert.equal(after.status, 200, after.text);
      assert.deepEqual(after.body['accepted'], [e.id]);
      assert.equal((await call(hub.url, 'GET', '/healthz')).status, 200);
    } finally {
      await hub.stop();
    }
  });

  test('the background jobs run once across hubs: each silent gateway is told once', async () => {
    const kind = dbs.kinds.find((k) => k.name === 'postgres')!;
    const fresh = await kind.fresh();
    const hook = new WebhookReceiver();
    await hook.start();
    const opts = { silentAfterMs: 200, webhooks: [{ url: hook.url, events: ['silent' as const] }] };
    const hubs = await Promise.all(
      [1, 2, 3].map(async () =>
        Hub.start({ db: await fresh.open(), log: new Lines(), listen: '127.0.0.1:0', ...opts }),
      ),
    );
    const setup = await fresh.open();
    try {
      try {
        const tokens: string[] = [];
        for (let i = 0; i < 20; i++) tokens.push(await addGateway(setup, `gw-${i}`));
        // Reports spread over the hubs, as a load balancer would.
        await Promise.all(
          tokens.map((t, i) =>
            call(hubs[i % 3]!.url, 'POST', '/api/v1/reports', { token: t, body: report(`gw-${i}`, status()) }),
          ),
        );
        await new Promise((r) => setTimeout(r, 400));
        // Each hub's own timer runs the jobs too (every 250 ms here), beside these rounds.
        for (let round = 0; round < 3; round++) await Promise.all(hubs.map((h) => h.runJobs()));
      } finally {
        // A timer's round may still be sending deliveries it claimed: stopping a hub waits for it.
        await Promise.all(hubs.map((h) => h.stop()));
        await hook.stop();
      }
      const silent = await setup.query<{ n: string }>("select count(*) as n from events where kind = 'silent'");
      const pending = await setup.query<{ n: string }>(
        'select count(*) as n from webhook_deliveries where delivered_at is null',
      );
      assert.equal(Number(silent[0]!.n), 20);
      assert.equal(Number(pending[0]!.n), 0, 'every delivery was sent');
      assert.equal(hook.received.length, 20);
      assert.equal(new Set(hook.received.map((h) => h.body['gateway'])).size, 20);
    } finally {
      await setup.close();
    }
  });
});
