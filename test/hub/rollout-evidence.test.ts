// GET /api/v1/rollouts/{id}/evidence on both databases: what the promoter's gates read. Only reports
// about the rollout's target count; every time is the hub's — a gateway whose clock is a year off
// changes none — and "healthy since" holds only while report after report says so. Protected like
// the rest of the read API; without a target, the one the rollout's reports name.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RolloutEvidenceJson } from '../../src/promoter/index.js';
import { call, hubDatabases, lab, report, sha, status, verdict, type Answer } from '../helpers/hub.js';

const dbs = await hubDatabases();
after(() => dbs.stop());

const TARGET = sha('target');
const BASE = sha('base');
const YEAR = 365 * 24 * 3600_000;

for (const kind of dbs.kinds) {
  describe(`rollout evidence on ${kind.name}`, () => {
    test('who may read it: reader and admin tokens; the target of its kind, or the one reports name', async () => {
      const l = await lab(kind, { 'gw-1': {} });
      try {
        const path = `/api/v1/rollouts/edge-v2/evidence?target=${TARGET}`;
        const cases: [string, Promise<Answer>, number, RegExp][] = [
          ['no token', call(l.url, 'GET', path), 401, /a reader or admin token is needed/],
          ["a gateway's token", call(l.url, 'GET', path, { token: l.gw['gw-1'] }), 401, /may only send reports/],
          [
            'a short commit',
            l.get(`/api/v1/rollouts/edge-v2/evidence?target=${TARGET.slice(0, 12)}`),
            400,
            /full commit id/,
          ],
          ['a bad id', l.get(`/api/v1/rollouts/-x/evidence?target=${TARGET}`), 400, /a rollout id/],
        ];
        for (const [what, answer, code, message] of cases) {
          const a = await answer;
          assert.equal(a.status, code, `${what}: ${a.text}`);
          assert.match(String(a.body['error']), message, what);
        }
        const a = await call(l.url, 'GET', path, { token: l.admin });
        assert.equal(a.status, 200, a.text);
        const doc = (await l.get('/api/v1/openapi.json')).body as { paths: Record<string, unknown> };
        assert.ok(doc.paths['/api/v1/rollouts/{id}/evidence'], 'in the OpenAPI document');
        // Without a target: the one the rollout's gateways name in their reports, when any does.
        const none = (await l.get('/api/v1/rollouts/edge-v2/evidence')).body as unknown as RolloutEvidenceJson;
        assert.equal(none.target, null);
        const standing = {
          id: 'edge-v2',
          target: TARGET,
          base: BASE,
          state: 'rolling' as const,
          runs: 'target' as const,
          code: 'admitted' as const,
          message: 'admitted',
        };
        assert.equal((await l.post('gw-1', report('gw-1', status({ rollout: standing })))).status, 200);
        const named = (await l.get('/api/v1/rollouts/edge-v2/evidence')).body as unknown as RolloutEvidenceJson;
        assert.equal(named.target, TARGET);
      } finally {
        await l.hub.stop();
      }
    });

    test("only reports about the target count, timed by the hub's clock whatever the gateway's says", async () => {
      const l = await lab(kind, { 'gw-ok': { ring: 'canary' }, 'gw-old': {}, 'gw-bad': {}, 'gw-new': { site: 'x' } });
      try {
        const ahead = new Date(Date.now() + YEAR).toISOString();
        const t0 = Date.now();
        const on = (commit: string) => ({ applied: { commit, at: ahead }, lastGood: { commit, at: ahead } });
        const skewed = (r: ReturnType<typeof report>) => ({ ...r, sentAt: ahead });
        for (const [gw, r] of [
          [
            'gw-ok',
            report('gw-ok', status({ labels: { ring: 'canary', role: 'gw' }, healthy: 'True', ...on(TARGET) }), [
              verdict('applied', TARGET, { at: ahead }),
            ]),
          ],
          ['gw-old', report('gw-old', status({ healthy: 'True', ...on(BASE) }))],
          [
            'gw-bad',
            report('gw-bad', status({ healthy: 'True', ...on(BASE) }), [
              verdict('rolled-back', TARGET, {
                at: ahead,
                reason: 'health-failed',
                detail: 'check api failed',
                to: BASE,
              }),
            ]),
          ],
        ] as const) {
          const a = await l.post(gw, skewed(r));
          assert.equal(a.status, 200, a.text);
        }
        const t1 = Date.now();
        const a = await l.get(`/api/v1/rollouts/edge-v2/evidence?target=${TARGET}`);
        assert.equal(a.status, 200, a.text);
        const e = a.body as unknown as RolloutEvidenceJson;
        const inHubTime = (ms: number | null | undefined, what: string) =>
          assert.ok(typeof ms === 'number' && ms >= t0 - 1000 && ms <= Date.now() + 1000, `${what}: ${ms} (hub time)`);
        inHubTime(e.now, 'now');
        assert.deepEqual([e.rollout, e.target], ['edge-v2', TARGET]);
        const by = Object.fromEntries(e.gateways.map((g) => [g.id, g]));
        assert.deepEqual(
          Object.keys(by).sort(),
          ['gw-bad', 'gw-new', 'gw-ok', 'gw-old'],
          'every gateway the hub knows',
        );
        // Healthy on the target, since the hub heard it so.
        assert.equal(by['gw-ok']!.target, TARGET);
        inHubTime(by['gw-ok']!.healthySince, 'healthySince');
        assert.ok(by['gw-ok']!.healthySince! <= t1);
        inHubTime(by['gw-ok']!.lastSeen, 'lastSeen');
        assert.equal(by['gw-ok']!.failed, null);
        assert.deepEqual(by['gw-ok']!.labels, { ring: 'canary', role: 'gw' }, 'the labels its agent reports');
        // Healthy on another commit: no evidence about the target.
        assert.deepEqual([by['gw-old']!.target, by['gw-old']!.healthySince], [BASE, null]);
        // The target failed there; it runs the base now.
        assert.equal(by['gw-bad']!.target, TARGET);
        assert.equal(by['gw-bad']!.healthySince, null);
        assert.equal(by['gw-bad']!.failed?.reason, 'rolled-back (health-failed): check api failed');
        inHubTime(by['gw-bad']!.failed?.at, 'failed.at');
        // Never reported: known, with the labels the hub was given.
        assert.deepEqual(by['gw-new'], {
          id: 'gw-new',
          labels: { site: 'x' },
          target: null,
          lastSeen: null,
          healthySince: null,
          failed: null,
        });
      } finally {
        await l.hub.stop();
      }
    });

    test('healthy since: kept while reports say healthy on the target, gone when one does not, anew', async () => {
      const l = await lab(kind, { 'gw-1': {} });
      try {
        const now = () => new Date().toISOString();
        const send = async (healthy: string, commit = TARGET) => {
          const a = await l.post('gw-1', report('gw-1', status({ healthy, applied: { commit, at: now() } })));
          assert.equal(a.status, 200, a.text);
          const e = (await l.get(`/api/v1/rollouts/edge-v2/evidence?target=${TARGET}`))
            .body as unknown as RolloutEvidenceJson;
          return e.gateways[0]!.healthySince;
        };
        const first = await send('True');
        assert.equal(typeof first, 'number');
        await sleep(30);
        assert.equal(await send('True'), first, 'a heartbeat that still says healthy keeps the start');
        assert.equal(await send('False'), null, 'unhealthy: no longer');
        await sleep(30);
        const again = await send('True');
        assert.ok(again! > first!, 'healthy again: counted from then');
        assert.equal(await send('True', BASE), null, 'healthy on another commit is not healthy on the target');
        assert.ok((await send('True'))! > again!, 'back on the target: from then');
      } finally {
        await l.hub.stop();
      }
    });
  });
}
