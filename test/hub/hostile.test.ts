// The hub under hostile input, on both databases: what PostgreSQL text cannot hold refused event
// by event (the rest of the report stored), every malformed request a 4xx naming the part that
// is wrong — checked case by case and then by walking every route of the OpenAPI document with
// hostile values for each parameter — reports kept in each gateway's own order whatever order
// they arrive in, tokens that stop working the moment they are rotated or removed, and labels
// that are a map of string to string.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, describe, test } from 'node:test';
import { addGateway, addToken, Hub, removeToken } from '../../src/hub/index.js';
import { cannotStore, ingest } from '../../src/hub/ingest.js';
import { hashToken } from '../../src/hub/tokens.js';
import type { GatewayDetail } from '../../src/hub/index.js';
import { Lines } from '../helpers/log-lines.js';
import { call, hubDatabases, lab, report, sha, status, TEST_BOOT, verdict, type Answer } from '../helpers/hub.js';

const dbs = await hubDatabases();
after(() => dbs.stop());

const NUL = '\u0000';
const LONE = '\uD800';

/** One request as bytes on a socket, for what fetch will not send; the status of the answer. */
async function rawStatus(url: string, request: string): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => s.end(request));
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString('latin1')));
    s.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
    s.on('error', reject);
  });
}

/** What an error answer says: the API's `error`, or the page's alert. */
const says = (a: Answer) => String(a.body['error'] ?? /role="alert">([^<]*)</.exec(a.text)?.[1] ?? '');

/** A 4xx with an error that says something, or an assertion naming the case. */
function refused(what: string, a: Answer, code?: number): void {
  if (code !== undefined) assert.equal(a.status, code, `${what}: ${a.status} ${a.text.slice(0, 300)}`);
  assert.ok(a.status >= 400 && a.status < 500, `${what}: ${a.status} ${a.text.slice(0, 300)}`);
  assert.ok(says(a).length > 10, `${what}: a clear error, got ${a.text.slice(0, 300)}`);
}

const deep = (n: number): unknown => (n === 0 ? 'bottom' : [deep(n - 1)]);
/** Stands for 5000 nested lists in a body: more than JSON.stringify itself can write. */
const DEEP = '<deep>';

/** A report sent as text, with DEEP where it says so. */
function postRaw(l: { url: string; gw: Record<string, string> }, body: unknown): Promise<Answer> {
  const raw = JSON.stringify(body).replace(`"${DEEP}"`, '['.repeat(5000) + ']'.repeat(5000));
  return call(l.url, 'POST', '/api/v1/reports', { token: l.gw['gw-1'], raw });
}

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

    test('every route of the OpenAPI document, walked with hostile values: never a 5xx', async () => {
      const l = await lab(kind, { 'gw-1': { site: 'berlin' }, 'gw-2': {} });
      try {
        await l.post('gw-1', report('gw-1', status({ head: sha(9) }), [verdict('applied', sha(9))]));
        const doc = (await l.get('/api/v1/openapi.json')).body as {
          paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: object }>>;
        };
        const hostile = [
          '',
          '%00',
          '%',
          '%E0%A4%A',
          '%ED%A0%80',
          '%FF',
          '%C0%AF',
          "'",
          '%22%3E%3Cimg%20src%3Dx%3E',
          'x'.repeat(5000),
          '-1',
          '0',
          '1.5',
          '1e309',
          '9223372036854775808',
          '99999999999999999999',
          'NaN',
          'Infinity',
          '0x10',
          'true',
          '2026-02-31',
          '99999-01-01',
          '..%2F..%2Fetc',
          '%EF%BC%A7%EF%BD%97-1',
          'g%CC%81w-1',
          '%E2%80%AE',
          'a=b=c',
          '=',
          '[]',
          '{}',
          '%20',
          '+',
        ];
        const fills: Record<string, string> = { id: 'gw-2', sha: sha(9).slice(0, 9) };
        let requests = 0;
        const send = async (method: string, path: string, body?: unknown) => {
          requests++;
          const a = await call(l.url, method, path, {
            token: l.admin,
            ...(body !== undefined ? { raw: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
          });
          assert.ok(a.status < 500, `${method} ${path.slice(0, 200)}: ${a.status} ${a.text.slice(0, 300)}`);
          if (a.status >= 400) assert.ok(String(a.body['error'] ?? '').length > 0, `${method} ${path}: ${a.text}`);
        };
        for (const [template, ops] of Object.entries(doc.paths))
          for (const [method, op] of Object.entries(ops)) {
            if (template === '/api/v1/reports') continue; // a gateway's route: below
            const M = method.toUpperCase();
            const params = op.parameters ?? [];
            const base = template.replace(/\{(\w+)\}/g, (_, n: string) => fills[n] ?? 'x');
            for (const p of params)
              for (const v of hostile) {
                if (p.in === 'path') await send(M, template.replace(`{${p.name}}`, v).replace(/\{(\w+)\}/g, 'x'));
                else {
                  await send(M, `${base}?${p.name}=${v}`);
                  await send(M, `${base}?${p.name}=${v}&${p.name}=${v}`);
                }
              }
            for (const v of hostile.slice(0, 8)) await send(M, `${base}?${v}=1`);
            if (op.requestBody)
              for (const body of [
                '',
                'null',
                '[]',
                '"x"',
                '{"id": 5}',
                `{"id": "gw-9", "labels": ${JSON.stringify(deep(40))}}`,
                '{"id": "gw-9", "labels": "site=berlin"}',
                '{"id": "gw-9", "labels": {"a": 1}}',
                '{"id": "gw-9\\u0000"}',
                '{"id": "\\ud800"}',
                '{"id": "gw-9", "labels": {"k": "\\u0000"}}',
                '{"id": "gw-9", "extra": 1}',
                '{"id": "gw-9"',
              ])
                await send(M, base, body);
          }
        // The gateway's route, with its own token: bodies a broken or hostile agent might send.
        const good = report('gw-1', status(), [verdict('applied', sha(1))]);
        const bodies: unknown[] = [
          null,
          [],
          { ...good, schema: 'rollgate.report/v0' },
          { ...good, gateway: 'gw-1\u0000' },
          { ...good, sequence: { boot: 'b', seq: 2 ** 63 } },
          { ...good, sequence: { boot: 'b', seq: -1 } },
          { ...good, sequence: { boot: 'b', seq: 1.5 } },
          { ...good, sequence: { boot: '\u0000', seq: 1 } },
          { ...good, sequence: 'b:1' },
          { ...good, events: Array.from({ length: 1001 }, () => verdict('applied', sha(1))) },
          {
            ...good,
            status: { ...good.status, labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [i, 'x'])) },
          },
          { ...good, status: { ...good.status, conditions: 'Ready' } },
          { ...good, events: [{ id: 'x', at: 'yesterday', verdict: 'applied' }] },
          { ...good, events: [{ ...good.events[0], commit: 'z'.repeat(40) }] },
          { ...good, events: [{ ...good.events[0], at: '2026-13-01T00:00:00Z' }] },
          { ...good, events: [{ ...good.events[0], detail: 'x'.repeat(9000) }] },
          { ...good, events: [{ ...good.events[0], id: 'x'.repeat(65) }] },
          { ...good, events: [{ ...good.events[0], id: '\u0000' }] },
          { ...good, events: [5, 'x', null, []] },
        ];
        for (const b of bodies) {
          requests++;
          const a = await l.post('gw-1', b);
          assert.ok(a.status < 500, `report ${JSON.stringify(b).slice(0, 200)}: ${a.status} ${a.text.slice(0, 300)}`);
        }
        assert.ok(requests > 1000, `${requests} requests`);
        assert.equal((await call(l.url, 'GET', '/healthz')).status, 200);
        assert.doesNotMatch(l.log.text, /internal error/);
      } finally {
        await l.hub.stop();
      }
    });

    test('an older report never overwrites a newer status; a state directory started anew wins', async () => {
      const l = await lab(kind, { 'gw-1': {} });
      try {
        const applied = (n: number) => status({ applied: { commit: sha(n), at: new Date().toISOString() } });
        const send = (n: number, seq: number, boot = TEST_BOOT, events = [verdict('applied', sha(n))]) =>
          l.post('gw-1', report('gw-1', applied(n), events, 0, { boot, seq }));
        const now = async () => (await l.get('/api/v1/gateways/gw-1')).body as unknown as GatewayDetail;
        assert.equal((await send(2, 20)).status, 200);
        // Sent before the one above, arriving after it (an outbox backlog, a slow path).
        const late = await send(1, 10);
        assert.equal(late.status, 200);
        assert.equal((late.body['accepted'] as string[]).length, 1, 'its events are stored');
        assert.equal((await now()).applied, sha(2), 'the newer status stays');
        assert.equal((await now()).reports, 2);
        // The gateway's state directory was wiped: a new numbering, from 1, arrives later and wins.
        assert.equal((await send(3, 1, 'wiped')).status, 200);
        assert.equal((await now()).applied, sha(3));
        // A report of the old numbering still on its way is older than anything of the new one.
        assert.equal((await send(4, 21)).status, 200);
        assert.equal((await now()).applied, sha(3));
        assert.equal((await send(5, 2, 'wiped')).status, 200);
        assert.equal((await now()).applied, sha(5));
        // Every event was stored, each once, whatever its report's place.
        assert.equal(((await l.get('/api/v1/events')).body['items'] as unknown[]).length, 5);
        // A place that is not a number the hub can keep exactly is no place.
        const base = report('gw-1', applied(9));
        const places: [unknown, RegExp][] = [
          [{ boot: 'b', seq: 2 ** 63 }, /sequence\.seq must be <= 9007199254740991/],
          [{ boot: 'b', seq: 2 ** 53 }, /sequence\.seq must be <= 9007199254740991/],
          [{ boot: 'b', seq: -1 }, /sequence\.seq must be >= 1/],
          [{ boot: 'b', seq: 0 }, /sequence\.seq must be >= 1/],
          [{ boot: 'b', seq: 1.5 }, /sequence\.seq must be integer/],
          [{ boot: 'b', seq: '7' }, /sequence\.seq must be integer/],
          [{ boot: 'b\u0000', seq: 7 }, /sequence\.boot must match pattern/],
          [{ boot: '', seq: 7 }, /sequence\.boot must match pattern/],
        ];
        for (const [sequence, msg] of places) {
          const a = await l.post('gw-1', { ...base, sequence });
          refused(`sequence ${JSON.stringify(sequence)}`, a, 400);
          assert.match(says(a), msg);
        }
        assert.equal((await now()).applied, sha(5), 'none of them changed the status');
      } finally {
        await l.hub.stop();
      }
    });

    test('an agent from before the numbering is taken in arrival order, until its gateway numbers them', async () => {
      const l = await lab(kind, { 'gw-1': {} });
      try {
        const at = new Date().toISOString();
        const unnumbered = (n: number) => {
          const { sequence: _none, ...r } = report('gw-1', status({ applied: { commit: sha(n), at } }), [
            verdict('applied', sha(n)),
          ]);
          void _none;
          return r;
        };
        const now = async () => (await l.get('/api/v1/gateways/gw-1')).body as unknown as GatewayDetail;
        for (const n of [1, 2]) assert.equal((await l.post('gw-1', unnumbered(n))).status, 200);
        assert.equal((await now()).applied, sha(2), 'arrival order, as before');
        const numbered = report('gw-1', status({ applied: { commit: sha(3), at } }), [], 0, { boot: 'new', seq: 1 });
        assert.equal((await l.post('gw-1', numbered)).status, 200);
        assert.equal((await now()).applied, sha(3));
        const late = await l.post('gw-1', unnumbered(4));
        assert.equal(late.status, 200, 'its events are still taken');
        assert.equal((late.body['accepted'] as string[]).length, 1);
        assert.equal((await now()).applied, sha(3), 'but no longer its status');
      } finally {
        await l.hub.stop();
      }
    });

    test('a replayed batch stores nothing twice, and changes neither the status nor the lost count', async () => {
      const l = await lab(kind, { 'gw-1': {} });
      try {
        const at = new Date().toISOString();
        const old = report('gw-1', status({ applied: { commit: sha(1), at } }), [verdict('applied', sha(1))], 3);
        const newer = report('gw-1', status({ applied: { commit: sha(2), at } }), [verdict('applied', sha(2))], 1);
        assert.equal((await l.post('gw-1', old)).status, 200);
        assert.equal((await l.post('gw-1', newer)).status, 200);
        for (let i = 0; i < 3; i++) {
          const again = await l.post('gw-1', old);
          assert.deepEqual(again.body['duplicates'], [old.events[0]!.id]);
        }
        const g = (await l.get('/api/v1/gateways/gw-1')).body as unknown as GatewayDetail;
        assert.equal(g.applied, sha(2));
        assert.equal(g.lostEvents, 4, 'the lost counts of the two reports, once each');
        assert.equal(g.history.length, 2);
      } finally {
        await l.hub.stop();
      }
    });

    test('a rotated or removed token stops working at once', async () => {
      const l = await lab(kind, { 'gw-1': {}, 'gw-2': {} });
      try {
        const beat = (token: string) => l.post('gw-1', report('gw-1', status()), token);
        const old = l.gw['gw-1']!;
        assert.equal((await beat(old)).status, 200);
        const rotated = await call(l.url, 'POST', '/api/v1/gateways/gw-1/token', { token: l.admin });
        assert.equal(rotated.status, 200);
        const refusedOld = await beat(old);
        refused('the old gateway token', refusedOld, 401);
        assert.match(String(refusedOld.body['error']), /not known to the hub/);
        assert.equal((await beat(String(rotated.body['token']))).status, 200);
        // People's tokens: removed, refused at the next request.
        const temp = await addToken(l.db, 'reader', 'temp');
        assert.equal((await call(l.url, 'GET', '/api/v1/fleet', { token: temp })).status, 200);
        await removeToken(l.db, 'temp');
        refused('a removed reader token', await call(l.url, 'GET', '/api/v1/fleet', { token: temp }), 401);
        // A removed gateway reports no more.
        assert.equal((await l.post('gw-2', report('gw-2', status()))).status, 200);
        assert.equal((await call(l.url, 'DELETE', '/api/v1/gateways/gw-2', { token: l.admin })).status, 200);
        refused('a removed gateway', await l.post('gw-2', report('gw-2', status())), 401);
      } finally {
        await l.hub.stop();
      }
    });

    test('the admin API takes labels as a map of string to string, bounded; anything else is a 400', async () => {
      const l = await lab(kind, {});
      try {
        const add = (body: unknown) => call(l.url, 'POST', '/api/v1/gateways', { token: l.admin, body });
        const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
        const cases: [string, unknown, RegExp][] = [
          ['a string', { id: 'gw-1', labels: 'site=berlin' }, /labels must be object/],
          ['a number', { id: 'gw-1', labels: 5 }, /labels must be object/],
          ['a list', { id: 'gw-1', labels: ['site=berlin'] }, /labels must be object/],
          ['null', { id: 'gw-1', labels: null }, /labels must be object/],
          ['a number value', { id: 'gw-1', labels: { site: 1 } }, /labels\.site must be string/],
          ['a nested value', { id: 'gw-1', labels: { site: { city: 'berlin' } } }, /labels\.site must be string/],
          ['65 labels', { id: 'gw-1', labels: many }, /must NOT have more than 64 properties/],
          ['a long value', { id: 'gw-1', labels: { site: 'x'.repeat(254) } }, /must NOT have more than 253/],
          ['a key with a space', { id: 'gw-1', labels: { 'my site': 'x' } }, /key that is not allowed/],
          ['a NUL value', { id: 'gw-1', labels: { site: `a${NUL}` } }, /U\+0000/],
          ['an unknown field', { id: 'gw-1', token: 'mine' }, /must NOT have additional properties/],
          ['a number id', { id: 42 }, /id must be string/],
          ['a fullwidth id', { id: '\uFF47\uFF57-1' }, /not a gateway id/],
          ['a combining accent', { id: 'gw-1\u0301' }, /not a gateway id/],
        ];
        for (const [what, body, msg] of cases) {
          const a = await add(body);
          refused(what, a, 400);
          assert.match(String(a.body['error']), msg, what);
        }
        assert.deepEqual((await l.get('/api/v1/gateways')).body['items'], [], 'nothing was added');
        const ok = await add({ id: 'gw-1', labels: { site: 'berlin', 'ring/x': 'a <b>' } });
        assert.equal(ok.status, 201, ok.text);
        const g = (await l.get('/api/v1/gateways/gw-1')).body;
        assert.deepEqual(g['labels'], { site: 'berlin', 'ring/x': 'a <b>' });
        // A look-alike of a gateway id is no gateway: refused by name, not taken for another.
        const token = String(ok.body['token']);
        for (const claimed of ['gw\u20101', '\uFF47\uFF57-1', 'gw-1\u0301', 'GW-1']) {
          const a = await call(l.url, 'POST', '/api/v1/reports', { token, body: report(claimed, status()) });
          refused(`reporting as ${claimed}`, a, 403);
        }
      } finally {
        await l.hub.stop();
      }
    });
  });
}

describe('several hubs on one PostgreSQL', { skip: !dbs.postgres && 'PostgreSQL is not here' }, () => {
  test('a token rotated or removed through one hub stops working on the other at once', async () => {
    const kind = dbs.kinds.find((k) => k.name === 'postgres')!;
    const fresh = await kind.fresh();
    const [a, b] = await Promise.all(
      [1, 2].map(async () =>
        Hub.start({ db: await fresh.open(), log: new Lines(), listen: '127.0.0.1:0', jobIntervalMs: 3_600_000 }),
      ),
    );
    const setup = await fresh.open();
    try {
      const gw = await addGateway(setup, 'gw-1');
      const admin = await addToken(setup, 'admin', 'ops');
      const reader = await addToken(setup, 'reader', 'dash');
      const beat = (hub: Hub, token: string) =>
        call(hub.url, 'POST', '/api/v1/reports', { token, body: report('gw-1', status()) });
      // Both hubs have seen both tokens work.
      for (const hub of [a!, b!]) {
        assert.equal((await beat(hub, gw)).status, 200);
        assert.equal((await call(hub.url, 'GET', '/api/v1/fleet', { token: reader })).status, 200);
      }
      const rotated = await call(a!.url, 'POST', '/api/v1/gateways/gw-1/token', { token: admin });
      assert.equal(rotated.status, 200);
      refused('the old token on the other hub', await beat(b!, gw), 401);
      assert.equal((await beat(b!, String(rotated.body['token']))).status, 200);
      await removeToken(setup, 'dash');
      refused('a removed reader on hub b', await call(b!.url, 'GET', '/api/v1/fleet', { token: reader }), 401);
      refused('a removed reader on hub a', await call(a!.url, 'GET', '/api/v1/fleet', { token: reader }), 401);
    } finally {
      await setup.close();
      await Promise.all([a!.stop(), b!.stop()]);
    }
  });
});
