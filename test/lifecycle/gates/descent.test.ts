// The descent gate as a table: what the gateway runs, where the head descends from, whether
// rewrites are allowed → the answer.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { descentGate } from '../../../src/lifecycle/gates/descent.js';
import type { GateAnswer } from '../../../src/lifecycle/gates/index.js';
import { APPLIED, HEAD, ports, subject } from '../../helpers/gate-ports.js';

interface Row {
  name: string;
  applied?: string;
  descends: boolean;
  allowRewrite?: boolean;
  expect: GateAnswer['kind'];
  asked: string[];
}

const rows: Row[] = [
  { name: 'nothing applied yet: admitted, nothing to descend from', descends: false, expect: 'admit', asked: [] },
  { name: 'the head is what runs: admitted', applied: HEAD, descends: false, expect: 'admit', asked: [] },
  {
    name: 'the head descends from what runs: admitted',
    applied: APPLIED,
    descends: true,
    expect: 'admit',
    asked: ['descends f c'],
  },
  {
    name: 'the head does not descend from what runs (force-push, moved back): refused as a rewrite',
    applied: APPLIED,
    descends: false,
    expect: 'refuse',
    asked: ['descends f c'],
  },
  {
    name: 'the same with trust.allowRewrite: admitted, history not even walked',
    applied: APPLIED,
    descends: false,
    allowRewrite: true,
    expect: 'admit',
    asked: [],
  },
];

describe('the descent gate, as a table', () => {
  for (const row of rows)
    test(row.name, async () => {
      const s = subject();
      if (row.applied) s.applied = row.applied;
      else delete s.applied;
      const p = ports({
        descends: (c, a) => (p.calls.push(`descends ${c.slice(0, 1)} ${a.slice(0, 1)}`), Promise.resolve(row.descends)),
        ...(row.allowRewrite ? { allowRewrite: true } : {}),
      });
      const a = await descentGate.check(s, p);
      assert.equal(a.kind, row.expect);
      assert.deepEqual(p.calls, row.asked);
      if (a.kind === 'refuse') {
        assert.equal(a.commit, HEAD);
        assert.equal(a.bad, 'rewrite');
        assert.match(
          a.reason,
          /does not descend from c{12}, the commit this gateway runs.*git revert.*--allow-rewrite/,
        );
      }
    });

  test('history that cannot be fetched to tell is thrown: an error, retried, never a verdict', async () => {
    const p = ports({ descends: () => Promise.reject(new Error('fetching 50 commits: HTTP 500')) });
    await assert.rejects(descentGate.check(subject(), p), /HTTP 500/);
  });
});
