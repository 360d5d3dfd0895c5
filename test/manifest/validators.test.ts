// The validators are compiled at build time (scripts/gen-validators.mjs, ajv's standalone code) so
// that no process loads ajv; here they are held to what ajv compiling the same schemas at run time
// gives — the verdict, every error object (and so every message made from them), and what
// removeAdditional leaves of the data — on inputs written elsewhere: the example fleet repo, every
// YAML and JSON file of test/fixtures, reports as the hub tests make them, and each of those broken
// one key at a time. And the built files are those the schemas give now: a stale build fails.
//
// The options below are the ones each validator was compiled with at run time before, written
// here again on purpose: they are what the generated code is compared with, not taken from it.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import { Ajv, type Options, type ValidateFunction } from 'ajv';
import type { Validator } from '../../src/base/validator.js';
import { leafValidators, policyValidator } from '../../src/agent/config-validators.js';
import { leafSchema, POLICY_SCHEMA, SETTINGS } from '../../src/agent/settings.js';
import { isIsoTime } from '../../src/hub/params.js';
import { ENVELOPE_JSON_SCHEMA, EVENT_JSON_SCHEMA, NEW_GATEWAY_JSON_SCHEMA } from '../../src/hub/report-json-schema.js';
import { checkEnvelope, checkEvent, checkNewGateway } from '../../src/hub/report-validators.js';
import { DEFAULT_GATE } from '../../src/manifest/index.js';
import { Problems } from '../../src/manifest/problems.js';
import { REFERS_TO, SCHEMA_NAMES, type SchemaName } from '../../src/manifest/schema-names.js';
import { validators } from '../../src/manifest/validators.js';
import { parseYamlFile } from '../../src/manifest/yaml-file.js';
import type { FleetRollout, RolloutState } from '../../src/model/rollout.js';
import { abortRollout, pauseRollout, renderRolloutState, startRollout } from '../../src/rollout/index.js';
import { projectRoot } from '../helpers/fixtures.js';
import { report, sha, status, verdict } from '../helpers/hub.js';

interface Generated {
  file: string;
  code: string;
}
const generator = (await import(pathToFileURL(join(projectRoot, 'scripts/gen-validators.mjs')).href)) as {
  generate(): Promise<Generated[]>;
};

function filesUnder(dir: string, ext: RegExp): string[] {
  return readdirSync(join(projectRoot, dir), { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => ext.test(f))
    .sort();
}

/** Every YAML document of the example fleet repo and of test/fixtures, as the loader parses it. */
function yamlDocs(dir: string): { file: string; value: unknown }[] {
  return filesUnder(dir, /\.ya?ml$/).flatMap((file) => {
    const y = parseYamlFile(file, readFileSync(join(projectRoot, file)), new Problems());
    return y && y.value !== undefined ? [{ file, value: y.value }] : [];
  });
}

/** The YAML blocks of the README and docs/: the configurations and files the documentation shows. */
function documentedDocs(): { file: string; value: unknown }[] {
  const pages = ['README.md', ...filesUnder('docs', /\.md$/)];
  return pages.flatMap((file) =>
    [...readFileSync(join(projectRoot, file), 'utf8').matchAll(/^```ya?ml\n([\s\S]*?)^```/gm)].flatMap((m, i) => {
      const y = parseYamlFile(`${file}#${i}`, new TextEncoder().encode(m[1]!), new Problems());
      return y && y.value !== undefined && y.value !== null ? [{ file: `${file}#${i}`, value: y.value }] : [];
    }),
  );
}

/** rollgate-rollout.yaml as the promoter writes it: started, paused, aborted (src/rollout). */
function rolloutStateDocs(): { file: string; value: unknown }[] {
  const who = { by: 'alice@example.com', why: 'a test', now: Date.parse('2026-11-03T10:00:00Z') };
  const rollout: FleetRollout = {
    fleet: { waves: [{ name: 'all', select: { kind: 'percent', percent: 100 }, gate: DEFAULT_GATE }] },
    targets: {},
  };
  const started = startRollout({ target: 'b'.repeat(40), base: 'a'.repeat(40), salt: '5b0f3c9a', rollout, ...who });
  const steps = [(st: RolloutState) => pauseRollout(st, who), (st: RolloutState) => abortRollout(st, who)];
  const states: RolloutState[] = [];
  let o = started;
  for (const step of steps) {
    if (o.kind !== 'write') break;
    states.push(structuredClone(o.state));
    o = step(o.state);
  }
  if (o.kind === 'write') states.push(o.state);
  return states.map((st, i) => {
    const file = `rollgate-rollout.yaml#${i}`;
    return {
      file,
      value: parseYamlFile(file, new TextEncoder().encode(renderRolloutState(st)), new Problems())?.value,
    };
  });
}

const jsonDocs = (dir: string) =>
  filesUnder(dir, /\.json$/).flatMap((file) => {
    try {
      return [{ file, value: JSON.parse(readFileSync(join(projectRoot, file), 'utf8')) as unknown }];
    } catch {
      return []; // a fixture that is not JSON on purpose
    }
  });

const ODD_VALUES: unknown[] = [null, 0, -1, 1.5, 7, '', 'x', '30s', 'true', true, [], ['a', 1], {}, { a: 'b' }];

/**
 * The document broken one place at a time, at most `limit` ways: each key removed, each value
 * replaced by a value of another kind, and each mapping given a key no schema has.
 */
function broken(doc: unknown, limit = 300): unknown[] {
  const out: unknown[] = [];
  const walk = (at: unknown, path: (string | number)[]) => {
    if (out.length >= limit || at === null || typeof at !== 'object') return;
    const entries: [string | number, unknown][] = Array.isArray(at)
      ? at.map((v, i) => [i, v])
      : Object.entries(at as Record<string, unknown>);
    if (!Array.isArray(at)) out.push(edit(doc, path, (o) => ((o as Record<string, unknown>)['zz-unknown'] = 1)));
    for (const [k, v] of entries) {
      if (!Array.isArray(at)) out.push(edit(doc, path, (o) => delete (o as Record<string, unknown>)[k as string]));
      for (const odd of ODD_VALUES.filter((o) => typeof o !== typeof v).slice(0, 3))
        out.push(edit(doc, path, (o) => ((o as Record<string | number, unknown>)[k] = structuredClone(odd))));
      walk(v, [...path, k]);
    }
  };
  walk(doc, []);
  return out.slice(0, limit);
}

function edit(doc: unknown, path: (string | number)[], change: (at: object) => void): unknown {
  const copy = structuredClone(doc);
  let at = copy as Record<string | number, unknown>;
  for (const seg of path) at = at[seg] as Record<string | number, unknown>;
  change(at);
  return copy;
}

/**
 * The built validator and ajv's run-time one give the same verdict and errors, and leave the data
 * the same (removeAdditional changes it); returns how many inputs were invalid.
 */
function same(name: string, built: Validator, runtime: ValidateFunction, inputs: unknown[]): number {
  let invalid = 0;
  for (const [i, input] of inputs.entries()) {
    const a = structuredClone(input);
    const b = structuredClone(input);
    const ok = built(a);
    assert.equal(ok, runtime(b), `${name}, input #${i}: the verdict`);
    assert.deepEqual(built.errors ?? null, runtime.errors ?? null, `${name}, input #${i}: the errors`);
    assert.deepEqual(a, b, `${name}, input #${i}: the data after validation`);
    if (!ok) invalid++;
  }
  return invalid;
}

describe('the validators built from the schemas are what ajv compiles at run time', () => {
  test('the built files are current: generated again from the schemas now, they are the same', async () => {
    const generated = await generator.generate();
    assert.deepEqual(generated.map((g) => g.file).sort(), [
      'agent/config-validators.js',
      'hub/report-validators.js',
      'manifest/validators.js',
    ]);
    for (const { file, code } of generated) {
      const onDisk = readFileSync(join(projectRoot, 'dist/src', file), 'utf8');
      assert.ok(onDisk === code, `dist/src/${file} is older than its schemas: run npm run build`);
      // ajv's compiler is not among what they import: only its small runtime helpers.
      const bare = [...code.matchAll(/^import .* from "([^".][^"]*)";$/gm)].map((m) => m[1]!);
      assert.deepEqual(
        bare.filter((s) => !/^ajv\/dist\/runtime\/[a-z0-9]+\.js$/.test(s)),
        [],
        `${file} imports only ajv's runtime helpers`,
      );
    }
  });

  test('every schema of schemas/ on the example fleet repo and every YAML and JSON fixture, whole and broken', (t) => {
    const example = [...yamlDocs('fleet-repo-example'), ...rolloutStateDocs()];
    assert.ok(example.length >= 5, `the example repo's files: ${example.map((d) => d.file).join(', ')}`);
    const fixtures = [...yamlDocs('test/fixtures'), ...jsonDocs('test/fixtures'), ...documentedDocs()];
    assert.ok(fixtures.length >= 100, `fixtures: ${fixtures.length}`);
    const inputs = [
      ...example.flatMap((d) => [d.value, ...broken(d.value)]),
      ...fixtures.map((d) => d.value),
      ...ODD_VALUES,
    ];
    const schemaFile = (n: SchemaName) =>
      JSON.parse(readFileSync(join(projectRoot, 'schemas', `${n}.schema.json`), 'utf8')) as object;
    const accepted: SchemaName[] = [];
    for (const name of SCHEMA_NAMES) {
      // As src/manifest/schema.ts compiled them before: what a schema refers to added first.
      const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
      for (const dep of REFERS_TO[name] ?? []) ajv.addSchema(schemaFile(dep));
      const invalid = same(name, validators[name], ajv.compile(schemaFile(name)), inputs);
      t.diagnostic(`${name}: ${inputs.length - invalid} of ${inputs.length} valid`);
      assert.ok(invalid > 0, `${name}: errors to compare`);
      if (invalid < inputs.length) accepted.push(name);
    }
    // Each schema has documents of its own among the inputs, so valid ones are compared too.
    assert.deepEqual(accepted, SCHEMA_NAMES, 'the schemas that accepted some input');
  });

  test("each setting's value from a flag or the environment, and the policy file", () => {
    const options: Options = { allErrors: true, strict: false };
    const docs = [...yamlDocs('test/fixtures'), ...yamlDocs('examples'), ...documentedDocs()];
    const at = (doc: unknown, path: string[]) =>
      path.reduce<unknown>(
        (o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined),
        doc,
      );
    let invalid = 0;
    for (const s of SETTINGS) {
      const v = leafValidators[s.key];
      assert.ok(v, `a validator for ${s.key}`);
      const found = docs.map((d) => at(d.value, s.path)).filter((x) => x !== undefined);
      const inputs = [s.default, ...found, ...ODD_VALUES].filter((x) => x !== undefined);
      invalid += same(s.key, v, new Ajv(options).compile(leafSchema(s)), inputs);
    }
    assert.ok(invalid > SETTINGS.length, `invalid values: ${invalid}`);
    assert.deepEqual(Object.keys(leafValidators).sort(), SETTINGS.map((s) => s.key).sort(), 'one per setting');

    const policies = docs.flatMap((d) => [d.value, at(d.value, ['policy'])]).filter((x) => x !== undefined);
    const withPolicy = policies.filter((p) => p !== null && typeof p === 'object' && 'registries' in p);
    assert.ok(withPolicy.length > 0, 'the fixtures hold policies');
    same('policy', policyValidator, new Ajv(options).compile(POLICY_SCHEMA), [
      ...policies,
      ...withPolicy.flatMap((p) => broken(p)),
      ...ODD_VALUES,
    ]);
  });

  test("the hub's report (lenient: unknown keys dropped) and new gateway (strict), whole and broken", () => {
    const lenient = new Ajv({ allErrors: false, strict: false, removeAdditional: true });
    const strict = new Ajv({ allErrors: false, strict: false });
    for (const a of [lenient, strict]) a.addFormat('date-time', isIsoTime);
    const event = verdict('rolled-back', sha(2), {
      to: sha(1),
      reason: 'health-failed',
      detail: 'probe web failed',
      conditions: [{ type: 'Healthy', status: 'False' }],
    });
    const whole = report('gw-1', status({ ready: 'True', healthy: 'False', labels: { site: 'north' }, head: sha(2) }), [
      verdict('applied', sha(1)),
      event,
    ]);
    const fixtures = jsonDocs('test/fixtures').map((d) => d.value);
    const reports = [whole, ...broken(whole, 2000), ...fixtures, ...ODD_VALUES];
    const envelopes = same('report envelope', checkEnvelope, lenient.compile(ENVELOPE_JSON_SCHEMA), reports);
    const events = same('report event', checkEvent, lenient.compile(EVENT_JSON_SCHEMA), [
      event,
      ...broken(event),
      ...ODD_VALUES,
    ]);
    const gateway = { id: 'gw-1', labels: { site: 'north', 'rollgate.dev/wave': '1' } };
    const gateways = same('new gateway', checkNewGateway, strict.compile(NEW_GATEWAY_JSON_SCHEMA), [
      gateway,
      ...broken(gateway),
      ...fixtures,
      ...ODD_VALUES,
    ]);
    assert.ok(envelopes > 50 && events > 10 && gateways > 5, `invalid: ${envelopes}, ${events}, ${gateways}`);
  });
});
