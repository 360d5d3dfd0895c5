// The trust gate as a table: what the signature check says about the branch's head → the answer.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { GateAnswer } from '../../../src/lifecycle/gates/index.js';
import { trustGate } from '../../../src/lifecycle/gates/trust.js';
import { TrustError } from '../../../src/trust/index.js';
import { BASE, HEAD, ports, subject } from '../../helpers/gate-ports.js';

interface Row {
  name: string;
  verify: (commit: string) => Promise<string | undefined>;
  subject?: Parameters<typeof subject>[0];
  expect: Partial<GateAnswer> & { kind: GateAnswer['kind'] };
  reason?: RegExp;
}

const rows: Row[] = [
  {
    name: 'no trusted keys configured: admitted, nothing said',
    verify: () => Promise.resolve(undefined),
    expect: { kind: 'admit' },
  },
  {
    name: 'signed by a trusted key: admitted, the signer noted',
    verify: () => Promise.resolve('Release Manager (OpenPGP, keys.asc)'),
    expect: { kind: 'admit', note: `commit ${HEAD.slice(0, 12)} is signed by Release Manager (OpenPGP, keys.asc)` },
  },
  {
    name: 'not signed by a trusted key: the head is refused as untrusted',
    verify: (c) => Promise.reject(new TrustError('untrusted', `commit ${c.slice(0, 12)} is not signed`)),
    expect: { kind: 'refuse', commit: HEAD, bad: 'untrusted' },
    reason: /is not signed/,
  },
  {
    name: 'the head is what is verified, whatever commit the subject runs (its rollout file is read next)',
    verify: (c) =>
      c === HEAD ? Promise.reject(new TrustError('untrusted', 'unsigned head')) : Promise.resolve(undefined),
    subject: { commit: BASE },
    expect: { kind: 'refuse', commit: HEAD, bad: 'untrusted' },
  },
];

describe('the trust gate, as a table', () => {
  for (const row of rows)
    test(row.name, async () => {
      const a = await trustGate.check(subject(row.subject), ports({ verify: row.verify }));
      const { reason, ...rest } = a as GateAnswer & { reason?: string };
      assert.deepEqual(rest, row.expect);
      if (row.reason) assert.match(reason ?? '', row.reason);
    });

  test('a check that cannot be made (the tags could not be listed) is thrown: an error, never a verdict', async () => {
    const p = ports({ verify: () => Promise.reject(new Error('git server unreachable')) });
    await assert.rejects(trustGate.check(subject(), p), /unreachable/);
  });
});
