// The gateway policy's one table, walked row by row: for every Compose key that reaches the host
// (HOST_KEYS), uses that the rule allows and uses it refuses, with the normalisation and
// traversal variants an outsider would try. And the table is complete: every key of the Compose
// specification and of the loader's key tables is in it, or in HARMLESS_KEYS with a reason, or
// refused by the loader — so the next Compose key cannot slip past unnoticed.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { HARMLESS_KEYS, HOST_KEYS, type HostKey } from '../../src/manifest/index.js';
import { NETWORK_KEYS, SERVICE_KEYS, VOLUME_KEYS } from '../../src/manifest/compose/keys.js';
import type { DesiredNetwork, DesiredVolume } from '../../src/model/index.js';
import { projectRoot } from '../helpers/fixtures.js';
import { baseService, type Cases, type NetworkCase, type ServiceCase, type VolumeCase } from './policy-cases/case.js';
import { SERVICE_CASES } from './policy-cases/service.js';
import { NETWORK_CASES, VOLUME_CASES } from './policy-cases/networks-volumes.js';

function run(row: HostKey, c: ServiceCase | NetworkCase | VolumeCase) {
  if (row.scope === 'service') {
    const s = c as ServiceCase;
    const config = { ...baseService(), ...s.config };
    return row.check(
      {
        name: 'svc',
        config,
        mountAt: config.volumes.map((_, i) => [s.mountKey ?? 'volumes', i]),
        portAt: config.ports.map((_, i) => i),
        networkNames: s.networkNames ?? {},
      },
      s.policy,
    );
  }
  if (row.scope === 'network') {
    const n = c as NetworkCase;
    const def: DesiredNetwork = { name: 'lan', driver: 'bridge', internal: false, ...n.def };
    return row.check({ def, engineName: n.engineName ?? 'edge_lan' }, n.policy);
  }
  const v = c as VolumeCase;
  const def: DesiredVolume = { name: 'data', driver: 'local', ...v.def };
  return row.check(
    { def, engineName: v.engineName ?? 'edge_data', ...(v.unmanaged ? { unmanaged: true } : {}) },
    v.policy,
  );
}

const casesOf = (row: HostKey): Cases<ServiceCase | NetworkCase | VolumeCase> | undefined =>
  row.scope === 'service'
    ? SERVICE_CASES[row.key]
    : row.scope === 'network'
      ? NETWORK_CASES[row.key]
      : VOLUME_CASES[row.key];

describe('the policy table, row by row', () => {
  for (const row of HOST_KEYS) {
    test(`${row.scope} ${row.key} (${row.rule}): ${row.reaches}`, () => {
      const cases = casesOf(row);
      assert.ok(cases, `the row ${row.scope} ${row.key} has cases here`);
      assert.ok(cases.allowed.length > 0 && cases.refused.length > 0, 'at least one allowed and one refused use');
      for (const c of cases.allowed) assert.deepEqual(run(row, c), [], `allowed: ${JSON.stringify(c)}`);
      for (const c of cases.refused) {
        const found = run(row, c);
        assert.ok(found.length > 0, `refused: ${JSON.stringify(c)}`);
        for (const f of found) {
          assert.equal(f.rule ?? row.rule, c.rule ?? row.rule, `the rule named for ${JSON.stringify(c)}`);
          assert.ok(f.message.length > 10);
        }
      }
    });
  }

  test('every case here belongs to a row (no case tests a key the table lost)', () => {
    const rows = new Set(HOST_KEYS.map((r) => `${r.scope} ${r.key}`));
    const cased = [
      ...Object.keys(SERVICE_CASES).map((k) => `service ${k}`),
      ...Object.keys(NETWORK_CASES).map((k) => `network ${k}`),
      ...Object.keys(VOLUME_CASES).map((k) => `volume ${k}`),
    ];
    assert.deepEqual(
      cased.filter((k) => !rows.has(k)),
      [],
    );
  });
});

describe('the policy table is complete', () => {
  interface SpecSchema {
    definitions: Record<string, { properties: Record<string, unknown> }>;
  }
  const spec = JSON.parse(
    readFileSync(join(projectRoot, 'test/fixtures/compose-spec/compose-spec.json'), 'utf8'),
  ) as SpecSchema;
  const scopes = [
    { scope: 'service', loader: SERVICE_KEYS, spec: spec.definitions['service']!.properties },
    { scope: 'network', loader: NETWORK_KEYS, spec: spec.definitions['network']!.properties },
    { scope: 'volume', loader: VOLUME_KEYS, spec: spec.definitions['volume']!.properties },
  ] as const;

  for (const { scope, loader, spec: specKeys } of scopes)
    test(`every ${scope} key reaches the host (HOST_KEYS), is harmless (with a reason), or is refused`, () => {
      const host = new Set(HOST_KEYS.filter((r) => r.scope === scope).map((r) => r.key));
      const harmless = HARMLESS_KEYS[scope];
      const keys = new Set([...Object.keys(loader), ...Object.keys(specKeys)]);
      const unclassified: string[] = [];
      for (const k of keys) {
        const rule = loader[k];
        const refused = rule !== undefined && 'refused' in rule;
        const inHost = host.has(k);
        const inHarmless = k in harmless;
        assert.ok(!(inHost && inHarmless), `${scope} ${k} is in both lists`);
        if (refused) assert.ok(!inHost && !inHarmless, `${scope} ${k} is refused by the loader; no list needs it`);
        else if (!inHost && !inHarmless) unclassified.push(k);
      }
      assert.deepEqual(unclassified, [], `${scope} keys neither in HOST_KEYS nor in HARMLESS_KEYS`);
      for (const k of [...host, ...Object.keys(harmless)])
        assert.ok(keys.has(k), `${scope} ${k} is listed but is no Compose key`);
      for (const [k, why] of Object.entries(harmless)) assert.ok(why.length > 8, `a reason for ${scope} ${k}`);
    });
});
