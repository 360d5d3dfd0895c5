// What a promoter key may sign, as a table walked row by row: a commit that breaks only that row is
// refused naming it, one that keeps every row is a rollout step; then the trust gate with promoter
// keys (in memory): a release-signed head never asks them, a head no key signed stays untrusted,
// a promoter-signed head is admitted or refused by the table, and what cannot be read is an error.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { GatePorts } from '../../../src/lifecycle/gates/index.js';
import {
  PROMOTER_RULES,
  promoterRuleBreaches,
  type PromoterCommit,
} from '../../../src/lifecycle/gates/promoter-rules.js';
import { trustGate } from '../../../src/lifecycle/gates/trust.js';
import { TrustError } from '../../../src/trust/index.js';
import { BASE, HEAD, ports, rolloutFile, subject, TARGET } from '../../helpers/gate-ports.js';

const PARENT = 'd'.repeat(40);
const STEP: PromoterCommit = {
  parents: [PARENT],
  changed: ['rollgate-rollout.yaml'],
  hasRolloutFile: true,
  named: [
    { role: 'base', commit: BASE },
    { role: 'target', commit: TARGET },
  ],
};

/** Per rule, a rollout step that breaks it alone, and what the refusal says. */
const BREAKS: Record<string, [PromoterCommit, RegExp][]> = {
  'one-parent': [
    [{ ...STEP, parents: [PARENT, 'e'.repeat(40)] }, /a merge of 2 parents/],
    [{ ...STEP, parents: [] }, /no parent/],
  ],
  'rollout-file-only': [
    [
      { ...STEP, changed: ['rollgate-rollout.yaml', 'systems/gateway/manifest.yaml'] },
      /also changes systems\/gateway\/manifest\.yaml/,
    ],
    [{ ...STEP, changed: ['NEW.md', 'rollgate-rollout.yaml'] }, /also changes NEW\.md/],
    [{ ...STEP, changed: [] }, /does not change rollgate-rollout\.yaml/],
  ],
  'rollout-file-kept': [[{ ...STEP, hasRolloutFile: false }, /removes rollgate-rollout\.yaml/]],
  'release-signed-commits': [
    [
      {
        ...STEP,
        named: [
          STEP.named[0]!,
          { role: 'target', commit: TARGET, untrusted: 'it is signed by the promoter key of P alone' },
        ],
      },
      /its target b{12} is not signed by a release key: it is signed by the promoter key of P alone/,
    ],
  ],
};

describe('the promoter rules, row by row', () => {
  test('every row of the table has its cases here, and none is left over', () => {
    assert.deepEqual(
      PROMOTER_RULES.map((r) => r.name),
      Object.keys(BREAKS),
    );
  });

  test('a rollout step keeps every row', () => assert.deepEqual(promoterRuleBreaches(STEP), []));

  for (const rule of PROMOTER_RULES)
    for (const [commit, why] of BREAKS[rule.name]!)
      test(`${rule.name}: ${rule.requires}`, () => {
        const b = promoterRuleBreaches(commit);
        assert.deepEqual(
          b.map((x) => x.rule),
          [rule.name],
          'this row alone',
        );
        assert.match(b[0]!.why, why);
      });
});

const untrusted = (c: string) =>
  Promise.reject(new TrustError('untrusted', `commit ${c.slice(0, 12)} is not signed by a trusted key`));

/** Ports where only BASE and TARGET carry a release signature, and `promoter` commits a promoter's. */
function promoterPorts(
  o: {
    promoter?: readonly string[];
    shape?: { parents?: readonly string[]; changed?: readonly string[] };
    file?: boolean;
  } = {},
): GatePorts {
  const promoter = o.promoter ?? [HEAD];
  return ports({
    verify: (c) => (c === BASE || c === TARGET ? Promise.resolve('Release (OpenPGP, release.asc)') : untrusted(c)),
    promoterSigner: (c) =>
      Promise.resolve(promoter.includes(c) ? 'Promoter <p@example.com> (OpenPGP, promoter.asc)' : undefined),
    commitShape: () =>
      Promise.resolve({
        parents: [...(o.shape?.parents ?? STEP.parents)],
        changed: [...(o.shape?.changed ?? STEP.changed)],
      }),
    rolloutState: () => Promise.resolve(o.file === false ? undefined : rolloutFile()),
  });
}

describe('the trust gate with promoter keys', () => {
  test('a head signed by a release key: admitted, no promoter rule asked', async () => {
    const p = promoterPorts();
    p.verify = () => Promise.resolve('Release (OpenPGP, release.asc)');
    const a = await trustGate.check(subject(), p);
    assert.deepEqual(a, {
      kind: 'admit',
      note: `commit ${HEAD.slice(0, 12)} is signed by Release (OpenPGP, release.asc)`,
    });
  });

  test('a rollout step signed by a promoter key: admitted, said so', async () => {
    const a = await trustGate.check(subject(), promoterPorts());
    assert.deepEqual(a, {
      kind: 'admit',
      note:
        `commit ${HEAD.slice(0, 12)} is a rollout step signed by the promoter key of ` +
        'Promoter <p@example.com> (OpenPGP, promoter.asc)',
    });
  });

  for (const [name, o, why] of [
    [
      'that also changes a manifest',
      { shape: { changed: ['m.yaml', 'rollgate-rollout.yaml'] } },
      /rollout-file-only: it also changes m\.yaml/,
    ],
    ['that removes the rollout file', { file: false }, /rollout-file-kept: it removes rollgate-rollout\.yaml/],
    ['that is a merge', { shape: { parents: [PARENT, BASE] } }, /one-parent: it is a merge of 2 parents/],
    [
      'that names a promoter-signed target',
      { promoter: [HEAD, TARGET] },
      /release-signed-commits: its target b{12} is not signed/,
    ],
  ] as const)
    test(`a promoter-signed head ${name}: refused as untrusted, naming the rule`, async () => {
      const p = promoterPorts(o);
      if (name.includes('promoter-signed target'))
        p.verify = (c) => (c === BASE ? Promise.resolve('Release') : untrusted(c));
      const a = await trustGate.check(subject(), p);
      assert.equal(a.kind, 'refuse');
      if (a.kind !== 'refuse') return;
      assert.deepEqual([a.commit, a.bad], [HEAD, 'untrusted']);
      assert.match(
        a.reason,
        /signed by the promoter key of Promoter <p@example\.com> .* and no release key; a promoter key signs a rollout/,
      );
      assert.match(a.reason, why);
    });

  test('no key signed it: untrusted as ever, and no promoter rule is asked', async () => {
    const p = promoterPorts({ promoter: [] });
    p.commitShape = () => Promise.reject(new Error('not to be asked'));
    const a = await trustGate.check(subject(), p);
    assert.deepEqual(a, {
      kind: 'refuse',
      commit: HEAD,
      bad: 'untrusted',
      reason: `commit ${HEAD.slice(0, 12)} is not signed by a trusted key`,
    });
  });

  test('what the rule needs cannot be read (the git server away): an error, never a verdict', async () => {
    const p = promoterPorts();
    p.commitShape = () => Promise.reject(new Error('git server unreachable'));
    await assert.rejects(trustGate.check(subject(), p), /unreachable/);
  });
});
