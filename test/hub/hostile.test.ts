// The hub under hostile input, on both databases: what PostgreSQL text cannot hold refused event
// by event (the rest of the report stored), and every malformed request a 4xx naming the part that
// is wrong, case by case. The routes walked with hostile values, the order of reports and the
// tokens and labels are in hostile-routes.test.ts and hostile-order.test.ts.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { cannotStore, ingest } from '../../src/hub/ingest.js';
import { hashToken } from '../../src/hub/tokens.js';
import type { GatewayDetail } from '../../src/hub/index.js';
import { call, hubDatabases, lab, report, sha, status, verdict, type Answer } from '../helpers/hub.js';
import { DEEP, LONE, NUL, postRaw, rawStatus, refused, says } from '../helpers/hostile.js';

const dbs = await hubDatabases();
after(() => dbs.stop());

for (const kind of dbs.kinds) {
  describe(`hostile input on ${kind.name}`, () => {
    test('a NUL or a lone surrogate in an event refuses that event alone; the rest is stored', async () => {
      const l = await lab(kind, { 'gw-1': {} });
      try {
        const before = verdict('applied', sha(1));
        const nul = verdict('rolled-back', sha(2), { reason: 'apply-failed', detail: `flash failed${NUL} at 7` });
        const lone = verdict('rejected', sha(3), { reason: 'invalid', detail: `bad ${LONE} byte` });
        const after = verdict('applied', sha(4));
        const a = await l.post('gw-1', report('gw-1', status(), [before, nul, lone, after]));
        assert.equal(a.status, 200, a.text);
        assert.deepEqual(a.body['accepted'], [before.id, after.id]);
        const no = a.body['refused'] as { id: string; error: string }[];
        assert.deepEqual(
          no.map((r) => r.id),
          [nul.id, lone.id],
        );
        assert.match(no[0]!.error, /events\.1\.detail holds the character U\+0000, which the hub cannot store/);
        assert.match(no[1]!.error, /events\.2\.detail holds the character U\+D800/);
        const stored = (await l.get('/api/v1/events')).body['items'] as { id: string }[];
        assert.deepEqual(
          stored.map((e) => e.id),
          [before.id, after.id],
        );
        assert.match(l.log.text, /2 event\(s\) of gateway gw-1 refused \(the rest stored\)/);
        // The status is the report's own: a NUL there refuses the report, named, and stores nothing.
        const st = status({ lastError: { at: new Date().toISOString(), message: `boom${NUL}` } });
        const whole = await l.post('gw-1', report('gw-1', st, [verdict('applied', sha(5))]));
        refused('a NUL in the status', whole, 400);
        assert.match(String(whole.body['error']), /status\.lastError\.message holds the character U\+0000/);
        assert.equal(((await l.get('/api/v1/events')).body['items'] as unknown[]).length, 2);
        // Other control characters are text like any other: stored, and given back as they were.
        const ctl = verdict('rolled-back', sha(6), {
          reason: 'apply-failed',
          detail: '\u0001\u001b[31mred\u007f\u2028',
        });
        assert.deepEqual((await l.post('gw-1', report('gw-1', status(), [ctl]))).body['accepted'], [ctl.id]);
        const back = (await l.get('/api/v1/gateways/gw-1')).body as unknown as GatewayDetail;
        assert.equal(back.history[0]!.detail, ctl.detail);
      } finally {
        await l.hub.stop();
      }
    });

    test('behind the edge: an event the database refuses is refused alone when its report is tried alone', async () => {
      const l = await lab(kind, { 'gw-1': {} });
      try {
        // As if the edge had missed a kind of character: the event reaches the database as it is.
        const good = verdict('applied', sha(1));
        const bad = verdict('rolled-back', sha(2), { reason: 'apply-failed', detail: `a${NUL}b` });
        const item = { tokenHash: hashToken(l.gw['gw-1']!), report: report('gw-1', status(), [good, bad]) };
        await assert.rejects(
          l.db.transaction((tx) => ingest(tx, [item], { webhooks: [] })),
          (err: unknown) => cannotStore(err),
          'a batch fails as a whole',
        );
        const [alone] = await l.db.transaction((tx) => ingest(tx, [item], { webhooks: [], oneByOne: true }));
        assert.deepEqual(alone!.accepted, [good.id]);
        assert.deepEqual(
          alone!.refused.map((r) => r.id),
          [bad.id],
        );
        assert.match(alone!.refused[0]!.error, /the hub cannot store it/);
        assert.equal((await l.get('/api/v1/gateways/gw-1')).body['reports'], 1);
      } finally {
        await l.hub.stop();
      }
    });

    test('malformed requests are answered 4xx with the part that is wrong, never 5xx', async () => {
      const l = await lab(kind, { 'gw-1': {} });
      try {
        const good = report('gw-1', status(), [verdict('applied', sha(1))]);
        const at = (t: string) => report('gw-1', status({ applied: { commit: sha(1), at: t } }));
        const cases: [string, () => Promise<Answer>, number, RegExp][] = [
          ['bad %-encoding in a path', () => l.get('/api/v1/gateways/%E0%A4%A'), 400, /malformed percent-encoding/],
          ['a lone % in a path', () => l.get('/api/v1/gateways/gw%'), 400, /malformed percent-encoding/],
          ['a NUL in a path', () => l.get('/api/v1/gateways/gw-1%00'), 400, /U\+0000/],
          ['an encoded surrogate', () => l.get('/api/v1/gateways/%ED%A0%80'), 400, /malformed percent-encoding/],
          ['a slash in an id', () => l.get('/api/v1/gateways/a%2Fb'), 400, /takes a gateway id/],
          ['bad %-encoding in a query', () => l.get('/api/v1/events?gateway=%E0%A4'), 400, /malformed/],
          ['a NUL in a query', () => l.get('/api/v1/events?gateway=gw%00'), 400, /U\+0000/],
          ['a NUL in a label', () => l.get('/api/v1/gateways?label=site=a%00'), 400, /U\+0000/],
          ['a cursor past bigint', () => l.get('/api/v1/events?after=9223372036854775808'), 400, /below 2\^63/],
          ['a cursor of 20 digits', () => l.get('/api/v1/events?after=99999999999999999999'), 400, /below 2\^63/],
          ['a negative cursor', () => l.get('/api/v1/events?after=-1'), 400, /seq of an event/],
          ['a limit of 0', () => l.get('/api/v1/gateways?limit=0'), 400, /from 1 to 1000/],
          ['a limit as a float', () => l.get('/api/v1/events?limit=1.5'), 400, /from 1 to 1000/],
          ['a history of 1e9', () => l.get('/api/v1/gateways/gw-1?history=999999999'), 400, /from 1 to 1000/],
          ['stale=banana', () => l.get('/api/v1/gateways?stale=banana'), 400, /true or false/],
          ['an unknown parameter', () => l.get('/api/v1/fleet?debug=1'), 400, /takes no parameter "debug"/],
          ['a parameter twice', () => l.get('/api/v1/events?limit=1&limit=2'), 400, /given 2 times/],
          ['an unknown kind', () => l.get('/api/v1/events?kind=%3Cb%3E'), 400, /kind takes one of/],
          ['a page with bad %', () => l.get('/gateways/%E0%A4%A'), 400, /malformed percent-encoding/],
          ['DELETE on a list', () => call(l.url, 'DELETE', '/api/v1/fleet', { token: l.admin }), 405, /takes GET/],
          ['no such route', () => l.get('/api/v1/nothing'), 404, /openapi\.json/],
          ['February 31st', () => l.post('gw-1', at('2026-02-31T00:00:00Z')), 400, /is not a time that exists/],
          ['hour 24', () => l.post('gw-1', at('2026-01-01T24:00:00Z')), 400, /is not a time that exists/],
          ['year 0', () => l.post('gw-1', at('0000-01-01T00:00:00Z')), 400, /is not a time that exists/],
          ['year 99999', () => l.post('gw-1', at('+099999-01-01T00:00:00Z')), 400, /is not a time that exists/],
          ['an offset of 99h', () => l.post('gw-1', at('2026-01-01T00:00:00+99:00')), 400, /is not a time that exists/],
          [
            'sentAt on Feb 29 of 2027',
            () => l.post('gw-1', { ...good, sentAt: '2027-02-29T00:00:00Z' }),
            400,
            /sentAt/,
          ],
          ['lost of 1e300', () => l.post('gw-1', { ...good, lost: 1e300 }), 400, /lost must be <=/],
          ['lost of 2^63', () => l.post('gw-1', { ...good, lost: 2 ** 63 }), 400, /lost must be <=/],
          [
            'rssBytes negative',
            () => l.post('gw-1', { ...good, status: { ...good.status, rssBytes: -1 } }),
            400,
            /rssBytes must be >= 0/,
          ],
          [
            'deep nesting in bad',
            () => postRaw(l, { ...good, status: { ...good.status, bad: DEEP } }),
            400,
            /deeper than 32/,
          ],
          [
            'deep nesting in an unknown field',
            () => postRaw(l, { ...good, events: [{ ...good.events[0], extra: DEEP }] }),
            400,
            /nests deeper/,
          ],
          [
            'a status bad entry of the wrong shape',
            () => l.post('gw-1', { ...good, status: { ...good.status, bad: [{ commit: 1 }] } }),
            400,
            /status\.bad\.0/,
          ],
          [
            'a body that is not UTF-8',
            () =>
              call(l.url, 'POST', '/api/v1/reports', { token: l.gw['gw-1'], raw: new Uint8Array([0x7b, 0xff, 0x7d]) }),
            400,
            /not UTF-8/,
          ],
          [
            'a JSON body that is a string',
            () => call(l.url, 'POST', '/api/v1/reports', { token: l.gw['gw-1'], raw: '"report"' }),
            400,
            /not a rollgate report/,
          ],
          [
            'JSON with a charset is JSON',
            () =>
              call(l.url, 'POST', '/api/v1/reports', { token: l.gw['gw-1'], raw: '[]', type: 'application/json; x=1' }),
            400,
            /not a rollgate report/,
          ],
          [
            'application/jsonx',
            () => call(l.url, 'POST', '/api/v1/reports', { token: l.gw['gw-1'], raw: '{}', type: 'application/jsonx' }),
            415,
            /application\/json/,
          ],
        ];
        for (const [what, send, code, msg] of cases) {
          const a = await send();
          refused(what, a, code);
          assert.match(says(a), msg, what);
        }
        // The page's cookie: one the hub did not set is no login (a redirect), never an error.
        for (const cookie of [
          'rollgate_hub=%E0%A4%A',
          'rollgate_hub=%00',
          'rollgate_hub',
          '=;;;=',
          'rollgate_hub="x',
        ]) {
          const a = await call(l.url, 'GET', '/', { headers: { cookie } });
          assert.equal(a.status, 303, `cookie ${cookie}: ${a.status}`);
        }
        for (const auth of ['Bearer %E0', 'Bearer rgr_\u00ff', 'Basic Zm9vOmJhcg==', `Bearer ${'x'.repeat(5000)}`]) {
          const a = await call(l.url, 'GET', '/api/v1/fleet', { headers: { authorization: auth } });
          refused(`authorization ${auth.slice(0, 20)}`, a, 401);
        }
        // What fetch will not send: a target that is no URL, a path that climbs.
        assert.equal(await rawStatus(l.url, 'GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n'), 400);
        assert.equal(await rawStatus(l.url, 'GET /api/v1/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n'), 404);
        assert.ok((await call(l.url, 'GET', '/healthz')).status === 200, 'the hub is still up');
        assert.doesNotMatch(l.log.text, /internal error|: error:/);
      } finally {
        await l.hub.stop();
      }
    });
  });
}
