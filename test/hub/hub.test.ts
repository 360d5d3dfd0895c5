// The hub on both databases (embedded PGlite and a real PostgreSQL started for this file): reports
// stored once however often they are sent, every bad report refused with a clear error and
// nothing stored, one commit across the fleet, filters and the event cursor. Webhooks, metrics,
// restarts, retention, migrations and several hubs on one database are in hub-operations.test.ts.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { call, hubDatabases, lab, report, sha, status, verdict } from '../helpers/hub.js';

const dbs = await hubDatabases();
after(() => dbs.stop());

for (const kind of dbs.kinds) {
  describe(`hub on ${kind.name}`, () => {
    test('a report sent twice is stored once: the second answer lists its events as duplicates', async () => {
      const l = await lab(kind, { 'gw-1': { site: 'berlin' } });
      try {
        const r = report('gw-1', status({ ready: 'True', applied: { commit: sha(1), at: new Date().toISOString() } }), [
          verdict('applied', sha(1)),
          verdict('drift-repaired', sha(1)),
        ]);
        const first = await l.post('gw-1', r);
        assert.equal(first.status, 200, first.text);
        assert.equal((first.body['accepted'] as string[]).length, 2);
        const again = await l.post('gw-1', r);
        assert.deepEqual(again.body['accepted'], []);
        assert.deepEqual((again.body['duplicates'] as string[]).sort(), r.events.map((e) => e.id).sort());
        // Heartbeats (a status, no events) add no rows: they update the gateway's one row.
        for (let i = 0; i < 3; i++) assert.equal((await l.post('gw-1', report('gw-1', r.status))).status, 200);
        const events = await l.get('/api/v1/events');
        assert.equal((events.body['items'] as unknown[]).length, 2);
        const [rows] = await l.db.query<{ n: string }>('select count(*) as n from gateways');
        assert.equal(Number(rows!.n), 1);
        const g = await l.get('/api/v1/gateways/gw-1');
        assert.equal(g.body['applied'], sha(1));
        assert.equal(g.body['reports'], 5);
        assert.deepEqual(g.body['labels'], { site: 'berlin' });
      } finally {
        await l.hub.stop();
      }
    });

    test('under a staged rollout: each event and each gateway is stored with the rollout and target', async () => {
      const l = await lab(kind, { 'gw-1': {}, 'gw-2': {} });
      try {
        const ro = { id: 'edge-v2', target: sha(2) };
        const standing = {
          ...ro,
          base: sha(1),
          state: 'rolling' as const,
          runs: 'base' as const,
          code: 'not-yet' as const,
          wave: { number: 2, of: 4, name: 'early', open: false },
          message: 'not yet: wave 2 of 4 "early" opens once the waves before it pass their gates',
        };
        const under = report('gw-1', status({ rollout: standing }), [
          verdict('applied', sha(1), { rollout: ro }),
          verdict('deferred', sha(2), { rollout: ro, detail: standing.message }),
        ]);
        const a = await l.post('gw-1', under);
        assert.equal(a.status, 200, a.text);
        assert.equal((a.body['accepted'] as string[]).length, 2, a.text);
        // An agent from before rollouts sends neither: stored as ever.
        const before = await l.post('gw-2', report('gw-2', status(), [verdict('applied', sha(1))]));
        assert.equal(before.status, 200, before.text);
        const events = await l.db.query<{ g: string; v: string; id: string | null; t: string | null; body: unknown }>(
          `select gateway_id as g, verdict as v, rollout_id as id, rollout_target as t, body->'rollout' as body
             from events where kind = 'verdict' order by seq`,
        );
        assert.deepEqual(
          events.map((e) => [e.g, e.v, e.id, e.t, e.body ?? null]),
          [
            ['gw-1', 'applied', 'edge-v2', sha(2), ro],
            ['gw-1', 'deferred', 'edge-v2', sha(2), ro],
            ['gw-2', 'applied', null, null, null],
          ],
        );
        const gws = await l.db.query<{ id: string; rid: string | null; t: string | null; code: string | null }>(
          `select id, rollout_id as rid, rollout_target as t, status->'rollout'->>'code' as code
             from gateways order by id`,
        );
        assert.deepEqual(
          gws.map((g) => [g.id, g.rid, g.t, g.code]),
          [
            ['gw-1', 'edge-v2', sha(2), 'not-yet'],
            ['gw-2', null, null, null],
          ],
        );
        // "Not yet" says nothing about the target: no outcome for it, fleet-wide.
        const [n] = await l.db.query<{ n: string }>('select count(*) as n from gateway_commits where commit = $1', [
          sha(2),
        ]);
        assert.equal(Number(n!.n), 0);
      } finally {
        await l.hub.stop();
      }
    });

    test('bad reports are refused with a reason, and none of them stores anything', async () => {
      const l = await lab(kind, { 'gw-1': {}, 'gw-2': {} }, { maxReportBytes: 64 * 1024 });
      try {
        const good = report('gw-1', status(), [verdict('applied', sha(1))]);
        const cases: [string, Promise<Awaited<ReturnType<typeof call>>>, number, RegExp][] = [
          ['no token', call(l.url, 'POST', '/api/v1/reports', { body: good }), 401, /no gateway token/],
          ['a made-up token', l.post('gw-1', good, 'rgw_madeup'), 401, /not known/],
          ['a reader token', l.post('gw-1', good, l.reader), 401, /gateway token/],
          ['another gateway', l.post('gw-2', good), 403, /belongs to gateway gw-2; it cannot report as gw-1/],
          [
            'too big',
            l.post('gw-1', { ...good, status: { ...good.status, labels: { big: 'x'.repeat(100_000) } } }),
            413,
            /at most 65536/,
          ],
          [
            'not JSON',
            call(l.url, 'POST', '/api/v1/reports', { token: l.gw['gw-1'], raw: '{"schema": "rollgate.rep' }),
            400,
            /not JSON/,
          ],
          [
            'not a report',
            l.post('gw-1', { ...good, status: { ...good.status, applied: { commit: 'HEAD', at: good.sentAt } } }),
            400,
            /status\.applied\.commit must match pattern/,
          ],
          ['a negative lost count', l.post('gw-1', { ...good, lost: -3 }), 400, /lost must be >= 0/],
          [
            'form data',
            call(l.url, 'POST', '/api/v1/reports', { token: l.gw['gw-1'], raw: 'a=b', type: 'text/plain' }),
            415,
            /application\/json/,
          ],
        ];
        for (const [what, p, code, msg] of cases) {
          const a = await p;
          assert.equal(a.status, code, `${what}: ${a.text}`);
          assert.match(String(a.body['error']), msg, what);
        }
        assert.deepEqual((await l.get('/api/v1/events')).body['items'], [], 'nothing was stored');
        const gw1 = await l.get('/api/v1/gateways/gw-1');
        assert.equal(gw1.body['lastSeen'], undefined);
        assert.match(l.log.text, /token of gateway gw-2 sent a report as gw-1/);
        const api = await call(l.url, 'GET', '/api/v1/fleet', { token: l.gw['gw-1'] });
        assert.equal(api.status, 401, 'a gateway token reads nothing');
        assert.equal((await call(l.url, 'GET', '/api/v1/fleet')).status, 401);
        assert.equal((await call(l.url, 'GET', '/metrics')).status, 401);
        assert.equal((await call(l.url, 'GET', '/healthz')).status, 200, '/healthz needs no token');
        const metrics = await l.get('/metrics');
        assert.match(metrics.text, /rollgate_hub_reports_total\{result="refused"\} 4/);
        assert.match(metrics.text, /rollgate_hub_reports_total\{result="invalid"\} 4/);
        assert.match(metrics.text, /rollgate_hub_reports_total\{result="too-large"\} 1/);
      } finally {
        await l.hub.stop();
      }
    });

    test('one commit across the fleet: applied, healthy, rolled back by reason, rejected, pending', async () => {
      const ids = ['a1', 'a2', 'rb1', 'rb2', 'rj', 'pend', 'never'];
      const l = await lab(kind, Object.fromEntries(ids.map((i) => [i, { ring: i.startsWith('a') ? '1' : '2' }])));
      try {
        const old = sha(1);
        const c = sha(2);
        const at = () => new Date().toISOString();
        const send = async (id: string, st: ReturnType<typeof status>, ev: ReturnType<typeof verdict>[] = []) =>
          assert.equal((await l.post(id, report(id, st, ev))).status, 200);
        // Everyone ran `old` first, so the new commit appears after it.
        for (const id of ids.slice(0, 6))
          await send(id, status({ ready: 'True', healthy: 'True', applied: { commit: old, at: at() } }), [
            verdict('applied', old),
          ]);
        await send('a1', status({ ready: 'True', healthy: 'True', applied: { commit: c, at: at() }, head: c }), [
          verdict('applied', c),
        ]);
        await send('a2', status({ ready: 'True', healthy: 'False', applied: { commit: c, at: at() }, head: c }), [
          verdict('applied', c),
        ]);
        for (const id of ['rb1', 'rb2'])
          await send(id, status({ ready: 'False', healthy: 'True', applied: { commit: old, at: at() }, head: c }), [
            verdict('rolled-back', c, { reason: 'health-failed', to: old, detail: `check web failed on ${id}` }),
          ]);
        await send('rj', status({ ready: 'False', applied: { commit: old, at: at() }, head: c }), [
          verdict('rejected', c, { reason: 'invalid', detail: 'compose.yaml:3: unknown key' }),
        ]);
        await send('pend', status({ ready: 'True', applied: { commit: old, at: at() }, head: c }));

        const s = (await l.get(`/api/v1/commits/${c.slice(0, 10)}`)).body;
        assert.equal(s['commit'], c);
        assert.deepEqual(
          [s['gateways'], s['applied'], s['healthy'], s['rolledBack'], s['rejected'], s['pending'], s['silent']],
          // 'never' never reported: not pending on this commit (nor on every other), but counted apart
          [7, 2, 1, 2, 1, 1, 0],
          JSON.stringify(s),
        );
        assert.equal(s['neverSeen'], 1);
        assert.deepEqual(
          (s['reasons'] as { outcome: string; reason: string; count: number }[]).map((r) => [
            r.outcome,
            r.reason,
            r.count,
          ]),
          [
            ['rolled-back', 'health-failed', 2],
            ['rejected', 'invalid', 1],
          ],
        );
        assert.equal((s['failures'] as unknown[]).length, 3);

        const fleet = (await l.get('/api/v1/fleet')).body as {
          gateways: number;
          neverSeen: number;
          byCondition: Record<string, Record<string, number>>;
          commits: { commit: string }[];
          failures: unknown[];
        };
        assert.equal(fleet.gateways, 7);
        assert.equal(fleet.neverSeen, 1);
        assert.deepEqual(fleet.byCondition['Ready'], { True: 3, False: 3, Unknown: 0 });
        assert.deepEqual(fleet.byCondition['Healthy'], { True: 3, False: 1, Unknown: 0 });
        assert.deepEqual(
          fleet.commits.map((x) => x.commit),
          [c, old],
        );
        assert.equal(fleet.failures.length, 3);

        const twins = ['abcdef0' + '1'.repeat(33), 'abcdef0' + '2'.repeat(33)];
        for (const head of twins) await send('never', status({ head }));
        const ambiguous = await l.get('/api/v1/commits/abcdef0');
        assert.equal(ambiguous.status, 400);
        assert.match(String(ambiguous.body['error']), /names several commits/);
        assert.equal((await l.get(`/api/v1/commits/${'f'.repeat(12)}`)).status, 404);

        const page = async (q: string) =>
          ((await l.get(`/api/v1/gateways?${q}`)).body['items'] as { id: string }[]).map((g) => g.id);
        assert.deepEqual(await page('label=ring=1'), ['a1', 'a2']);
        assert.deepEqual(await page(`commit=${c.slice(0, 8)}`), ['a1', 'a2']);
        assert.deepEqual(await page('condition=Ready=False'), ['rb1', 'rb2', 'rj']);
        assert.deepEqual(await page('condition=Healthy'), ['a1', 'rb1', 'rb2']);
        assert.deepEqual(await page('limit=2'), ['a1', 'a2']);
        assert.deepEqual(await page('limit=2&after=a2'), ['never', 'pend']);
        assert.equal((await l.get('/api/v1/gateways?condition=Happy')).status, 400);
      } finally {
        await l.hub.stop();
      }
    });

    test('the event stream pages by cursor, in order, with nothing twice and nothing skipped', async () => {
      const l = await lab(kind, { 'gw-1': {}, 'gw-2': {} });
      try {
        const sent: string[] = [];
        for (let i = 0; i < 7; i++) {
          const id = i % 2 ? 'gw-2' : 'gw-1';
          const e = [verdict('applied', sha(i + 10)), verdict('no-change', sha(i + 10))];
          sent.push(...e.map((x) => x.id));
          await l.post(id, report(id, status(), e));
        }
        const seen: string[] = [];
        let after = '';
        for (let n = 0; n < 10; n++) {
          const p = (await l.get(`/api/v1/events?limit=4${after ? `&after=${after}` : ''}`)).body as {
            items: { id: string }[];
            next?: string;
          };
          if (p.items.length === 0) break;
          seen.push(...p.items.map((x) => x.id));
          after = p.next!;
        }
        assert.deepEqual(seen, sent);
        const onlyGw2 = (await l.get('/api/v1/events?gateway=gw-2&kind=no-change')).body['items'] as unknown[];
        assert.equal(onlyGw2.length, 3);
        assert.equal((await l.get('/api/v1/events?after=abc')).status, 400);
      } finally {
        await l.hub.stop();
      }
    });
  });
}
