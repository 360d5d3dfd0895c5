// The policy gate as a table: how the commit to run loads under the gateway's policy → the answer.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayConfigError } from '../../../src/base/config-error.js';
import { FleetRepoError } from '../../../src/manifest/index.js';
import type { LoadedCommit } from '../../../src/lifecycle/gates/index.js';
import { policyGate } from '../../../src/lifecycle/gates/policy.js';
import { BASE, ports, subject } from '../../helpers/gate-ports.js';

const broken = new FleetRepoError([{ file: 'rollgate.yaml', line: 3, message: 'unknown key "sytems"' }]);
const forbidden = new FleetRepoError([
  { file: 'app/compose.yaml', line: 9, message: 'privileged', rule: 'policy.allowPrivileged' },
]);
const noTarget = new FleetRepoError([{ file: 'rollgate.yaml', message: 'no target matches' }], 'gateway.labels');

interface Row {
  name: string;
  load?: (c: string) => Promise<LoadedCommit>;
  expect: 'admit' | 'invalid' | 'forbidden' | 'throws';
  err?: RegExp;
}

const rows: Row[] = [
  { name: 'it loads: admitted, with what it loaded', expect: 'admit' },
  {
    name: 'it does not load: refused as invalid, with the problems',
    load: () => Promise.reject(broken),
    expect: 'invalid',
    err: /rollgate\.yaml:3:1: unknown key "sytems"/,
  },
  {
    name: "it asks for more than the gateway's policy allows: refused as forbidden",
    load: () => Promise.reject(forbidden),
    expect: 'forbidden',
    err: /app\/compose\.yaml:9:1: privileged/,
  },
  {
    name: "the gateway's own configuration is at fault (no target matches): thrown, never a verdict",
    load: () => Promise.reject(noTarget),
    expect: 'throws',
    err: /no target matches/,
  },
  {
    name: 'its variables file does not parse: thrown, never a verdict',
    load: () => Promise.reject(new GatewayConfigError('cannot read the variables file', 'gateway.variablesFile')),
    expect: 'throws',
    err: /variables file/,
  },
];

describe('the policy gate, as a table', () => {
  for (const row of rows)
    test(row.name, async () => {
      const p = ports(row.load ? { load: row.load } : {});
      // The commit it loads is the one to run (here a rollout's base), not the head.
      const check = policyGate.check(subject({ commit: BASE }), p);
      if (row.expect === 'throws') {
        await assert.rejects(check, row.err!);
        return;
      }
      const a = await check;
      if (row.expect === 'admit') {
        assert.equal(a.kind, 'admit');
        assert.equal(a.kind === 'admit' && a.loaded?.desired.source.commit, BASE);
        assert.deepEqual(p.calls, ['load a']);
        return;
      }
      assert.equal(a.kind, 'refuse');
      if (a.kind !== 'refuse') return;
      assert.equal(a.commit, BASE);
      assert.equal(a.bad, row.expect);
      assert.match(a.reason, row.err!);
    });
});
