// The board against a real hub on both databases, read as HTML over HTTP: the gateway list pages
// through more than 500 gateways with nothing cut and says how many it shows of how many, takes
// the API's filters with the API's answers, refuses bad ones; a finished commit is "moved on", not
// pending; gateways that never reported are pending nowhere; failures are grouped by commit and
// reason; the versions view counts what runs where and links to those gateways; a gateway's page
// says a repeated error once; a never-seen gateway's page says how to connect it.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { GatewaySummary, Page } from '../../src/hub/index.js';
import { call, hubDatabases, lab, report, sha, status, verdict, type Lab } from '../helpers/hub.js';

const dbs = await hubDatabases();
after(() => dbs.stop());

const page = async (l: Lab, path: string) => {
  const a = await call(l.url, 'GET', path, { token: l.reader });
  assert.equal(a.status, 200, `${path}: ${a.text.slice(0, 300)}`);
  return a.text;
};
const rowsOf = (html: string) => [...html.matchAll(/<tr data-gateway="([^"]+)"/g)].map((m) => m[1]!);
const testid = (html: string, id: string) => {
  const m = new RegExp(`data-testid="${id}"[^>]*>([\\s\\S]*?)</`).exec(html);
  return m?.[1]
    ?.replace(/<[^>]+>/g, '')
    .replace(/\s+/g, ' ')
    .trim();
};
const unescape = (s: string) =>
  s
    .replace(/&amp;/g, '&')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"');

for (const kind of dbs.kinds) {
  describe(`the board on ${kind.name}`, () => {
    test('the list reaches each of 520 gateways, says what it shows of how many, filters as the API does', async () => {
      const l = await lab(kind, { 'gw-live': { ring: '1' } });
      try {
        const ids = Array.from({ length: 520 }, (_, i) => `gw-${String(i).padStart(4, '0')}`);
        await l.db.query(
          `insert into gateways (id, labels)
           select i, jsonb_build_object('ring', r) from unnest($1::text[], $2::text[]) as x(i, r)`,
          [ids, ids.map((_, i) => String(i % 4))],
        );
        const applied = status({ ready: 'True', applied: { commit: sha(1), at: new Date().toISOString() } });
        assert.equal((await l.post('gw-live', report('gw-live', applied, [verdict('applied', sha(1))]))).status, 200);

        // Every gateway, page by page, each once; the count says where each page is.
        const seen: string[] = [];
        for (let p = 1; p <= 6; p++) {
          const html = await page(l, `/gateways?per=100&page=${p}`);
          const from = (p - 1) * 100 + 1;
          assert.equal(testid(html, 'list-count'), `showing ${from}–${Math.min(p * 100, 521)} of 521`);
          seen.push(...rowsOf(html));
        }
        assert.deepEqual(seen, [...ids, 'gw-live'].sort(), 'each gateway once, in id order, none cut');
        const over = await page(l, '/gateways?per=100&page=7');
        assert.deepEqual(rowsOf(over), []);
        assert.match(over, /No gateway on this page/);

        // The overview lists the first few, and says so.
        const overview = await page(l, '/');
        assert.equal(rowsOf(overview.slice(overview.indexOf('id="gateways"'))).length, 25);
        assert.match(testid(overview, 'overview-listed') ?? '', /The first 25 of 521 by id/);

        // Filters: the page and the API give the same gateways for the same query.
        const both = async (q: string) => {
          const api: string[] = [];
          let after = '';
          for (;;) {
            const a = await l.get(`/api/v1/gateways?${q}&limit=1000${after ? `&after=${after}` : ''}`);
            assert.equal(a.status, 200, a.text);
            const body = a.body as unknown as Page<GatewaySummary>;
            api.push(...body.items.map((g) => g.id));
            if (!body.next) break;
            after = body.next;
          }
          const html = await page(l, `/gateways?${q}&per=500`);
          assert.deepEqual(rowsOf(html), api.slice(0, 500), q);
          assert.match(testid(html, 'list-count') ?? '', new RegExp(` of ${api.length}( |$)`), q);
          return { ids: api, count: testid(html, 'list-count') };
        };
        const ring1 = await both('label=ring%3D1');
        assert.equal(ring1.ids.length, 131);
        assert.equal(ring1.count, 'showing 1–131 of 131 (of 521 total)');
        assert.deepEqual(
          (await both('q=GW-005')).ids,
          ids.filter((i) => i.startsWith('gw-005')),
        );
        assert.deepEqual((await both('state=reporting')).ids, ['gw-live']);
        assert.equal((await both('state=never')).ids.length, 520);
        assert.deepEqual((await both(`commit=${sha(1).slice(0, 8)}`)).ids, ['gw-live']);
        assert.deepEqual((await both('condition=Ready%3DTrue&label=ring%3D1')).ids, ['gw-live']);
        // An empty form field is no filter on the page.
        assert.equal(rowsOf(await page(l, '/gateways?q=&label=&state=&per=500')).length, 500);

        // Sorted by last report, newest first: the one that reported leads.
        assert.equal(rowsOf(await page(l, '/gateways?sort=-last-seen&per=50'))[0], 'gw-live');

        // Bad input: a 400 that names the parameter, on the page and on the API alike.
        for (const [path, words] of [
          ['/gateways?commit=xyz', /commit takes a commit/],
          ['/gateways?sort=newest', /sort takes one of id, -id/],
          ['/gateways?page=0', /page takes a whole number from 1/],
          ['/gateways?per=100000', /per takes a whole number from 1 to 500/],
          ['/gateways?state=gone', /state takes one of reporting, silent, never/],
          ['/api/v1/gateways?state=gone', /state takes one of reporting, silent, never/],
          ['/api/v1/gateways?component=noversion', /component takes type=version/],
          ['/api/v1/gateways?q=', /./],
        ] as const) {
          const a = await call(l.url, 'GET', path, { token: l.reader });
          if (path.endsWith('q=')) {
            assert.equal(a.status, 200, 'an empty search is the API asking for every gateway');
            continue;
          }
          assert.equal(a.status, 400, `${path}: ${a.text.slice(0, 200)}`);
          assert.match(unescape(a.text), words, path);
        }
      } finally {
        await l.hub.stop();
      }
    });

    test('a finished commit is moved on, failures grouped, versions counted, a gateway says things once', async () => {
      const gws = ['a1', 'a2', 'a3', 'b1', 'b2'];
      const l = await lab(kind, { ...Object.fromEntries(gws.map((g) => [g, { ring: g[0]! }])), never: {} });
      try {
        const at = () => new Date().toISOString();
        const send = async (id: string, st: ReturnType<typeof status>, ev: ReturnType<typeof verdict>[] = []) =>
          assert.equal((await l.post(id, report(id, st, ev))).status, 200);
        const on = (n: number, extra: Parameters<typeof status>[0] = {}) =>
          status({ ready: 'True', healthy: 'True', applied: { commit: sha(n), at: at() }, head: sha(n), ...extra });
        // Everyone takes sha(1); then sha(2) fails on the b's (the same reason, said again and again) and the a's
        // take it; then everyone takes sha(3).
        for (const g of gws) await send(g, on(1), [verdict('applied', sha(1))]);
        const comp = (v: string) => ({ components: [{ key: 'R1', type: 'rtos', version: v }] });
        const web = (image: string) => ({
          containers: [{ app: 'shop', service: 'web', image, state: 'running' as const, commit: sha(2) }],
        });
        for (const g of ['a1', 'a2', 'a3'])
          await send(g, on(2, { ...comp('v2'), ...web('shop/web:2') }), [verdict('applied', sha(2))]);
        const bad = { commit: sha(2), kind: 'health-failed' as const, reason: 'probe web failed', at: at() };
        for (const g of ['b1', 'b2'])
          for (let i = 0; i < 3; i++)
            await send(
              g,
              on(1, {
                ...comp('v1'),
                ...web('shop/web:1'),
                head: sha(2),
                ready: 'False',
                bad: [bad, bad, bad],
                lastError: { at: at(), message: 'probe web failed' },
              }),
              [verdict('rolled-back', sha(2), { reason: 'health-failed', to: sha(1), detail: 'probe web failed' })],
            );

        const overview = await page(l, '/');
        const two = sha(2).slice(0, 12);
        // sha(2) now: 3 applied, 2 rolled back, and the never-seen gateway pending on nothing.
        assert.equal(testid(overview, `commit-${two}-applied`), '3');
        assert.equal(testid(overview, `commit-${two}-rolledBack`), '2');
        assert.equal(testid(overview, `commit-${two}-pending`), '0', 'a gateway that never reported is not pending');
        assert.equal(testid(overview, 'gateways-never'), '1');
        // Grouped: one row for sha(2)'s health-failed with 2 gateways behind it, each rolled back three times.
        const failures = overview.slice(
          overview.indexOf('id="failures"'),
          overview.indexOf('</table>', overview.indexOf('id="failures"')),
        );
        assert.equal((failures.match(/<details>/g) ?? []).length, 1, failures);
        assert.equal(testid(failures, `failures-${two}-health-failed`), '2 gateways');
        assert.match(failures, /href="\/gateways\/b1"[\s\S]*href="\/gateways\/b2"/);

        // Everyone moves on to sha(3): sha(1) and sha(2) are finished, not stuck.
        for (const g of gws) await send(g, on(3), [verdict('applied', sha(3))]);
        const one = (await l.get(`/api/v1/commits/${sha(1)}`)).body;
        assert.deepEqual([one['applied'], one['pending'], one['movedOn'], one['neverSeen']], [5, 0, 0, 1]);
        const after2 = (await l.get(`/api/v1/commits/${sha(2)}`)).body;
        assert.deepEqual(
          [after2['applied'], after2['rolledBack'], after2['pending'], after2['movedOn']],
          [3, 2, 0, 0],
          JSON.stringify(after2),
        );
        // A commit some gateways skipped: sha(4) seen on one gateway's head only, then everyone runs sha(5).
        await send('a1', on(3, { head: sha(4) }));
        for (const g of gws) await send(g, on(5), [verdict('applied', sha(5))]);
        const four = (await l.get(`/api/v1/commits/${sha(4)}`)).body;
        assert.deepEqual([four['pending'], four['movedOn'], four['neverSeen']], [0, 5, 1], JSON.stringify(four));
        const commits = await page(l, '/commits');
        assert.equal(testid(commits, `commit-${sha(4).slice(0, 12)}-movedOn`), '5');
        assert.match(commits, /moved-on 5/, 'the bar shows moved on');

        // Versions: from the last reports (sha(5)'s carry none), so report them again.
        await send('a1', on(5, { ...comp('v2'), ...web('shop/web:2') }));
        await send('a2', on(5, { ...comp('v2'), ...web('shop/web:2') }));
        await send('b1', on(5, { ...comp('v1'), ...web('shop/web:1') }));
        const versions = await page(l, '/versions');
        assert.equal(testid(versions, 'component-rtos-v2'), '2');
        assert.equal(testid(versions, 'component-rtos-v1'), '1');
        assert.equal(testid(versions, 'service-shop/web-shop/web:2'), '2');
        const link = /data-testid="component-rtos-v2"><a href="([^"]+)"/.exec(versions)?.[1];
        assert.ok(link, 'the count links to the gateways');
        assert.deepEqual(rowsOf(await page(l, unescape(link))), ['a1', 'a2']);
        const svc = /data-testid="service-shop\/web-shop\/web:1"><a href="([^"]+)"/.exec(versions)?.[1];
        assert.deepEqual(rowsOf(await page(l, unescape(svc!))), ['b1']);

        // b2's page: the same error (three bad records and the last error) said once, with how often.
        await send(
          'b2',
          on(1, { bad: [bad, bad, bad], lastError: { at: at(), message: 'probe web failed' }, labels: { site: 'x' } }),
        );
        const b2 = await page(l, '/gateways/b2');
        const errors = b2.slice(b2.indexOf('id="errors"'), b2.indexOf('</ul>', b2.indexOf('id="errors"')));
        assert.equal((errors.match(/<li>/g) ?? []).length, 2, errors);
        assert.match(errors, /×3/);
        assert.match(b2, /site[\s\S]*x[\s\S]*its report/, 'its labels are on its page');
        assert.match(b2, /ring[\s\S]*b[\s\S]*the hub/);

        // The never-seen gateway's page says how to connect it, with this hub's address.
        const never = await page(l, '/gateways/never');
        assert.match(testid(never, 'connect-config') ?? '', new RegExp(`url: ${l.url.replace(/\./g, '\\.')}`));
        assert.match(never, /rollgate hub gateway token never/);
        assert.doesNotMatch(never, /id="conditions"/, 'no empty tables');
      } finally {
        await l.hub.stop();
      }
    });
  });
}
