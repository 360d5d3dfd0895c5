// The order of a gateway's reports cannot pin its status for good. A report numbered past the
// gateway's own (sent by whoever held its token, or by its state directory before a wipe, brought
// back from a backup) wins the order, and the gateway's own reports are then "older" forever: the
// hub would show a status nobody reports. Rotating the token starts the order again with the first
// report under the new one; and an order that has set no status for --silent-after, while the
// gateway keeps reporting, is given up for the reports that arrive.

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import type { GatewayDetail } from '../../src/hub/index.js';
import type { ReportSequence } from '../../src/model/index.js';
import { call, hubDatabases, lab, report, sha, status, verdict } from '../helpers/hub.js';

const dbs = await hubDatabases();
after(() => dbs.stop());

const applied = (n: number) => status({ applied: { commit: sha(n), at: new Date().toISOString() } });

for (const kind of dbs.kinds) {
  describe(`the order of a gateway's reports, on ${kind.name}`, () => {
    test('a forged place in the order holds only until the gateway token is rotated', async () => {
      const l = await lab(kind, { 'gw-1': {} });
      try {
        const now = async () => ((await l.get('/api/v1/gateways/gw-1')).body as unknown as GatewayDetail).applied;
        let token = l.gw['gw-1']!;
        const send = (n: number, sequence: ReportSequence, as = token) =>
          l.post('gw-1', report('gw-1', applied(n), [], 0, sequence), as);
        const own = (seq: number) => ({ boot: 'own-numbering', seq });

        assert.equal((await send(1, own(1))).status, 200);
        assert.equal(await now(), sha(1));
        // Whoever copied the token reports a status of their own, at the last place a number can have,
        // and then under a numbering the hub has never seen.
        const leaked = token;
        assert.equal((await send(666, own(Number.MAX_SAFE_INTEGER), leaked)).status, 200);
        assert.equal((await send(667, { boot: 'forged', seq: 1 }, leaked)).status, 200);
        assert.equal(await now(), sha(667));
        assert.equal((await send(2, own(2))).status, 200, "the gateway's own report is taken");
        assert.equal(await now(), sha(667), 'but its status is older in the order');

        // The operator rotates the token and gives the new one to the gateway.
        const rotated = await call(l.url, 'POST', '/api/v1/gateways/gw-1/token', { token: l.admin });
        assert.equal(rotated.status, 200, rotated.text);
        token = String(rotated.body['token']);
        assert.equal((await send(668, own(Number.MAX_SAFE_INTEGER), leaked)).status, 401);
        assert.equal((await send(3, own(3))).status, 200);
        assert.equal(await now(), sha(3), 'the first report under the new token sets the status');
        // From there the order is the gateway's own again: newer wins, older does not.
        assert.equal((await send(4, own(5))).status, 200);
        assert.equal(await now(), sha(4));
        assert.equal((await send(5, own(4))).status, 200);
        assert.equal(await now(), sha(4), 'a report sent before the last one still does not overwrite it');
      } finally {
        await l.hub.stop();
      }
    });

    test('an order that has set no status for --silent-after gives way to the reports that arrive', async () => {
      const silentAfterMs = 300;
      const l = await lab(kind, { 'gw-1': {} }, { silentAfterMs });
      try {
        const now = async () => ((await l.get('/api/v1/gateways/gw-1')).body as unknown as GatewayDetail).applied;
        const send = (n: number, sequence?: ReportSequence) => {
          const r = report('gw-1', applied(n));
          const { sequence: _numbered, ...unnumbered } = r;
          void _numbered;
          return l.post('gw-1', sequence ? { ...r, sequence } : unnumbered);
        };
        const backup = (seq: number) => ({ boot: 'kept-in-a-backup', seq });
        assert.equal((await send(1, backup(500))).status, 200);
        // The state directory is wiped: a new numbering wins, as it should.
        assert.equal((await send(2, { boot: 'after-the-wipe', seq: 1 })).status, 200);
        assert.equal(await now(), sha(2));
        // Then it is restored from the backup: the gateway reports in the numbering it had before,
        // and nothing reports in the other any more.
        await sleep(silentAfterMs + 200);
        assert.equal((await send(3, backup(1001))).status, 200);
        assert.equal(await now(), sha(3), 'the numbering the gateway reports in now sets the status');
        assert.equal((await send(4, backup(1002))).status, 200);
        assert.equal(await now(), sha(4));
        // The agent is downgraded to a version from before the numbering.
        await sleep(silentAfterMs + 200);
        assert.equal((await send(5)).status, 200);
        assert.equal(await now(), sha(5), 'its reports set the status');
        assert.equal((await send(6)).status, 200);
        assert.equal(await now(), sha(6), 'in the order they arrive, as before the numbering');
        const events = await l.get('/api/v1/gateways/gw-1');
        assert.equal((events.body as unknown as GatewayDetail).reports, 6, 'every report was taken');
      } finally {
        await l.hub.stop();
      }
    });

    test('a verdict dated in the future (a clock ahead, a forged report) does not outlast later ones', async () => {
      const l = await lab(kind, { 'gw-1': {}, 'gw-2': {} });
      try {
        const commit = async (n: number) => (await l.get(`/api/v1/commits/${sha(n)}`)).body;
        const ahead = '2099-01-01T00:00:00.000Z';
        // gw-1's clock is 70 years ahead when sha(1) fails its health window; NTP then sets it right,
        // the bad record is forgotten, and the commit is applied again.
        const failed = verdict('rolled-back', sha(1), { at: ahead, reason: 'health-failed', detail: 'probe down' });
        assert.equal((await l.post('gw-1', report('gw-1', status(), [failed]))).status, 200);
        assert.equal((await commit(1))['rolledBack'], 1);
        const ok = verdict('applied', sha(1));
        assert.equal((await l.post('gw-1', report('gw-1', applied(1), [ok]))).status, 200);
        const now = await commit(1);
        assert.equal(now['applied'], 1, JSON.stringify(now));
        assert.equal(now['rolledBack'], 0, 'the later verdict is the one that counts');
        // A future date is no "later commit" either: gw-2, which has said nothing on sha(2) yet, is pending
        // on it, not moved on, because of a verdict dated 2099 on another commit.
        const future = verdict('applied', sha(3), { at: ahead });
        assert.equal((await l.post('gw-2', report('gw-2', applied(3), [future]))).status, 200);
        assert.equal((await l.post('gw-1', report('gw-1', status({ head: sha(2) }), []))).status, 200);
        const two = await commit(2);
        assert.equal(two['movedOn'], 0, JSON.stringify(two));
        assert.equal(two['pending'], 2);
      } finally {
        await l.hub.stop();
      }
    });
  });
}
