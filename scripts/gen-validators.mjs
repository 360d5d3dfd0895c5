#!/usr/bin/env node
// Compiles rollgate's JSON schemas into validators at build time (`npm run build`, after tsc), with
// ajv's standalone code generation, so that no process that validates — the agent at its start,
// `rollgate validate`, the hub — loads ajv's compiler (68 modules, +7.5 MB) or compiles anything.
// The schemas are read where they are defined: schemas/*.json, and the TypeScript modules that
// build the others, compiled by tsc into dist/src. Each generated module sits beside the `.d.ts`
// that types it in src/ and is bundled by scripts/bundle.mjs like any other.
//
// ajv writes CommonJS that require()s a few small runtime helpers (ajv/dist/runtime/equal,
// ucs2length, ...). Each ajv instance's code runs in a function given a `require` that returns
// modules the generated ES module imports statically, so that esbuild bundles them too.
//
// `generate()` is what test/manifest/validators.test.ts compares the built files with: a build
// older than a schema fails there.

import { Ajv, _ } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = (module) => import(pathToFileURL(`${root}dist/src/${module}`).href);
const ajvVersion = JSON.parse(readFileSync(`${root}node_modules/ajv/package.json`, 'utf8')).version;

/**
 * The options of each validator as the code used them when it compiled at run time: the
 * generated code, and so every error object and every message made from it, is the same.
 */
const OPTIONS = {
  // verbose: errors carry their parent schema, for the list of known keys and x-expected texts.
  manifest: { allErrors: true, strict: false, verbose: true },
  config: { allErrors: true, strict: false },
  // Reports drop what they do not know; an admin's request is checked as written.
  reportLenient: { allErrors: false, strict: false, removeAdditional: true },
  reportStrict: { allErrors: false, strict: false },
};

/**
 * The generated modules: where each goes (under dist/src), what it is made from, and each ajv
 * instance in it with the schemas it compiles (`add`: [schema, key], in order) and exports
 * (export name → key); `tail` gives the module's exports from the instances' objects; `formats`:
 * the module the formats the schemas name come from.
 */
async function modules() {
  const { SCHEMA_NAMES, REFERS_TO } = await built('manifest/schema-names.js');
  const { SETTINGS, leafSchema, POLICY_SCHEMA } = await built('agent/settings.js');
  const hub = await built('hub/report-json-schema.js');
  const schemaFile = (name) => JSON.parse(readFileSync(`${root}schemas/${name}.schema.json`, 'utf8'));
  const id = (name) => schemaFile(name).$id;
  return [
    {
      file: 'manifest/validators.js',
      from: 'schemas/*.json',
      instances: [
        {
          options: OPTIONS.manifest,
          // A schema another refers to is added before that one (the table of src/manifest/schema-names.ts).
          add: SCHEMA_NAMES.flatMap((n) => [...(REFERS_TO[n] ?? []), n]).map((n) => [schemaFile(n), id(n)]),
          exports: Object.fromEntries(SCHEMA_NAMES.map((n) => [n, id(n)])),
          refersTo: Object.fromEntries(SCHEMA_NAMES.map((n) => [id(n), (REFERS_TO[n] ?? []).map(id)])),
        },
      ],
      tail: ([all]) => `export const validators = ${all};`,
    },
    {
      file: 'agent/config-validators.js',
      from: 'schemas/agent-config.schema.json (src/agent/settings.ts: leafSchema, POLICY_SCHEMA)',
      instances: [
        {
          options: OPTIONS.config,
          add: SETTINGS.map((s) => [leafSchema(s), s.key]),
          exports: Object.fromEntries(SETTINGS.map((s) => [s.key, s.key])),
        },
        { options: OPTIONS.config, add: [[POLICY_SCHEMA, 'policy']], exports: { policy: 'policy' } },
      ],
      tail: ([leaves, policy]) =>
        `export const leafValidators = ${leaves};\nexport const policyValidator = ${policy}.policy;`,
    },
    {
      file: 'hub/report-validators.js',
      from: 'src/hub/report-json-schema.ts',
      instances: [
        {
          options: OPTIONS.reportLenient,
          add: [
            [hub.ENVELOPE_JSON_SCHEMA, 'envelope'],
            [hub.EVENT_JSON_SCHEMA, 'event'],
          ],
          exports: { envelope: 'envelope', event: 'event' },
        },
        {
          options: OPTIONS.reportStrict,
          add: [[hub.NEW_GATEWAY_JSON_SCHEMA, 'newGateway']],
          exports: { newGateway: 'newGateway' },
        },
      ],
      tail: ([lenient, strict]) =>
        [
          `export const checkEnvelope = ${lenient}.envelope;`,
          `export const checkEvent = ${lenient}.event;`,
          `export const checkNewGateway = ${strict}.newGateway;`,
        ].join('\n'),
      // The date-time format is rollgate's function: the generated code imports it from its module.
      formats: { from: './report-json-schema.js', name: 'REPORT_FORMATS', value: hub.REPORT_FORMATS },
    },
  ];
}

/** An ajv instance with an instance's schemas. */
function ajvFor(instance, formats, code) {
  const ajv = new Ajv({ ...instance.options, ...(code ? { code } : {}) });
  for (const [name, format] of Object.entries(formats ?? {})) ajv.addFormat(name, format);
  for (const [schema, key] of instance.add) if (!ajv.getSchema(key)) ajv.addSchema(schema, key);
  return ajv;
}

/** Each module's file (under dist/src) and its code. */
export async function generate() {
  const out = [];
  for (const m of await modules()) {
    const imports = new Map();
    const bodies = [];
    for (const [i, instance] of m.instances.entries()) {
      // A schema compiled alone with what the table says it refers to: a reference missing from
      // the table fails the build here rather than passing because another schema came first.
      for (const [key, refs] of Object.entries(instance.refersTo ?? {})) {
        const alone = ajvFor({ ...instance, add: instance.add.filter(([, k]) => k === key || refs.includes(k)) });
        alone.getSchema(key);
      }
      const code = {
        source: true,
        ...(m.formats ? { formats: _`require(${m.formats.from})[${m.formats.name}]` } : {}),
      };
      const ajv = ajvFor(instance, m.formats?.value, code);
      const cjs = standaloneCode(ajv, instance.exports);
      for (const [, spec] of cjs.matchAll(/require\("([^"]+)"\)/g))
        if (!imports.has(spec)) imports.set(spec, `__m${imports.size}`);
      bodies.push(`const __v${i} = (function (exports, require) {\n${cjs}\nreturn exports;\n})({}, __require);`);
    }
    const importLines = [...imports].map(([spec, name]) =>
      spec.startsWith('.')
        ? `import * as ${name} from ${JSON.stringify(spec)};`
        : `import ${name} from ${JSON.stringify(spec.endsWith('.js') ? spec : `${spec}.js`)};`,
    );
    const table = [...imports].map(([spec, name]) => `  ${JSON.stringify(spec)}: ${name},`);
    const text = [
      `// Generated by scripts/gen-validators.mjs (ajv ${ajvVersion} standalone code) from ${m.from}.`,
      '// Do not edit: `npm run build` writes it again.',
      ...importLines,
      'const __modules = {',
      ...table,
      '};',
      'function __require(spec) {',
      '  const m = __modules[spec];',
      '  if (m === undefined) throw new Error(`generated validators: no module ${spec}`);',
      '  return m;',
      '}',
      ...bodies,
      m.tail(m.instances.map((_, i) => `__v${i}`)),
      '',
    ].join('\n');
    out.push({ file: m.file, code: text });
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const { file, code } of await generate()) writeFileSync(`${root}dist/src/${file}`, code);
}
