// The hub under hostile input, on both databases: every route of the OpenAPI document walked with
// hostile values for each parameter, never a 5xx.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { call, hubDatabases, lab, report, sha, status, verdict } from '../helpers/hub.js';
import { deep } from '../helpers/hostile.js';

const dbs = await hubDatabases();
after(() => dbs.stop());

for (const kind of dbs.kinds) {
  describe(`hostile input on ${kind.name}`, () => {
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
  });
}
