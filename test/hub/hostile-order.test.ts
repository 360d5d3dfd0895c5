// The hub under hostile input, on both databases: reports kept in each gateway's own order whatever
// order they arrive in, replays stored once, tokens that stop working the moment they are rotated or
// removed (on every hub of one PostgreSQL), and labels that are a map of string to string.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { addGateway, addToken, Hub, removeToken } from '../../src/hub/index.js';
import type { GatewayDetail } from '../../src/hub/index.js';
import { Lines } from '../helpers/log-lines.js';
import { call, hubDatabases, lab, report, sha, status, TEST_BOOT, verdict } from '../helpers/hub.js';
import { NUL, refused, says } from '../helpers/hostile.js';

const dbs = await hubDatabases();
after(() => dbs.stop());

for (const kind of dbs.kinds) {
  describe(`hostile input on ${kind.name}`, () => {
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
