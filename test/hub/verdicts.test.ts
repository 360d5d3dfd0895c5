// The verdict table as the hub reads it, on both databases: a gateway reports one event of every
// verdict, each on its own commit, and each lands where its row says — the commit's outcome, the
// fleet's list of failures (a query whose list of verdicts comes from the table) and the webhooks,
// in the row's words.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { NOTIFY_KINDS } from '../../src/hub/index.js';
import { chatText } from '../../src/hub/webhook-body.js';
import { VERDICT_REASONS, VERDICTS, type VerdictFacts } from '../../src/model/index.js';
import { hubDatabases, lab, report, sha, status, verdict, WebhookReceiver } from '../helpers/hub.js';

const dbs = await hubDatabases();
after(() => dbs.stop());

const commitOf = (i: number) => sha(`verdict ${i}`);
const LAST_GOOD = sha('last good');

for (const kind of dbs.kinds) {
  describe(`hub on ${kind.name}`, () => {
    test('every verdict lands where its row says: outcome, failures, webhook and its words', async () => {
      const hook = new WebhookReceiver();
      await hook.start();
      const l = await lab(kind, { 'gw-1': {} }, { webhooks: [{ url: hook.url, events: NOTIFY_KINDS }] });
      try {
        const sent = VERDICT_REASONS.map((r, i) =>
          verdict(r, commitOf(i), { to: LAST_GOOD, reason: 'health-failed', detail: `why ${r}` }),
        );
        const answer = await l.post('gw-1', report('gw-1', status(), sent));
        assert.equal(answer.status, 200, answer.text);
        assert.equal((answer.body['accepted'] as string[]).length, sent.length, 'the hub takes every verdict');

        for (const [i, r] of VERDICT_REASONS.entries()) {
          const row: VerdictFacts = VERDICTS[r];
          const s = (await l.get(`/api/v1/commits/${commitOf(i)}`)).body;
          const counts = { applied: s['applied'], rolledBack: s['rolledBack'], rejected: s['rejected'] };
          const expected = {
            applied: row.outcome === 'applied' ? 1 : 0,
            rolledBack: row.outcome === 'rolled-back' ? 1 : 0,
            rejected: row.outcome === 'rejected' ? 1 : 0,
          };
          assert.deepEqual(counts, expected, `${r}: how the hub counts its commit`);
          const retrying = (s['reasons'] as { outcome: string }[]).some((x) => x.outcome === 'retrying');
          assert.equal(retrying, row.outcome === 'retrying', `${r}: retrying`);
        }

        const fleet = (await l.get('/api/v1/fleet')).body as { failures: { verdict: string }[] };
        assert.deepEqual(
          fleet.failures.map((f) => f.verdict).sort(),
          VERDICT_REASONS.filter((r) => {
            const o = VERDICTS[r].outcome as VerdictFacts['outcome'];
            return o === 'rolled-back' || o === 'rejected';
          }).sort(),
          "the fleet's failures: the verdicts whose commit failed",
        );

        await l.hub.runJobs();
        const got = new Map(hook.received.map((h) => [String(h.body['kind']), String(h.body['text'])]));
        const told = VERDICT_REASONS.filter((r) => VERDICTS[r].notify !== null);
        assert.deepEqual([...got.keys()].sort(), [...told].sort(), 'a webhook for each verdict whose row says so');
        for (const r of told) {
          const words = {
            gateway: 'gw-1',
            commit: commitOf(VERDICT_REASONS.indexOf(r)).slice(0, 12),
            to: LAST_GOOD.slice(0, 12),
            because: ` (health-failed: why ${r})`,
          };
          assert.equal(got.get(r), chatText((VERDICTS[r] as VerdictFacts).notify!(words)), `${r}: in its words`);
        }
      } finally {
        await l.hub.stop();
        await hook.stop();
      }
    });
  });
}
