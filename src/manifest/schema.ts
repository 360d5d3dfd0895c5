// JSON Schema validation of parsed YAML, with ajv's errors turned into problems that point at
// the offending key or value and say what was expected.

import type { ErrorObject } from '../base/validator.js';
import type { Problems } from './problems.js';
import type { SchemaName } from './schema-names.js';
// Compiled from schemas/*.json at build time (scripts/gen-validators.mjs): ajv's compiler, its
// 68 modules and the compiling itself stay out of every process that validates.
import { validators } from './validators.js';
import { problemAt, type PathSeg, type YamlFile } from './yaml-file.js';

export type { SchemaName };

function toPath(pointer: string): PathSeg[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function valueAt(root: unknown, path: PathSeg[]): unknown {
  let cur = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[String(seg)];
  }
  return cur;
}

/** Drops errors of anyOf branches that do not apply, so users see one precise message. */
function prune(errors: ErrorObject[]): ErrorObject[] {
  const drop = new Set<ErrorObject>();
  const extra: ErrorObject[] = [];
  for (const any of errors.filter((e) => e.keyword === 'anyOf')) {
    const prefix = any.schemaPath + '/';
    const branchErrs = errors.filter((e) => e.schemaPath.startsWith(prefix));
    const branches = new Map<string, ErrorObject[]>();
    for (const e of branchErrs) {
      const b = e.schemaPath.slice(prefix.length).split('/')[0]!;
      branches.set(b, [...(branches.get(b) ?? []), e]);
    }
    const typeMismatch = (errs: ErrorObject[]): boolean =>
      errs.some((e) => e.instancePath === any.instancePath && e.keyword === 'type');
    const applicable = [...branches.values()].filter((errs) => !typeMismatch(errs));
    for (const e of branchErrs) drop.add(e);
    drop.add(any);
    if (applicable.length > 0) {
      for (const e of applicable[0]!) drop.delete(e);
    } else {
      const types = [...branches.values()].flatMap((errs) =>
        errs.filter((e) => e.keyword === 'type').map((e) => String(e.params['type'])),
      );
      extra.push({ ...any, keyword: 'type', params: { type: [...new Set(types)].join(' or ') } });
    }
  }
  return [...errors.filter((e) => !drop.has(e)), ...extra];
}

function report(problems: Problems, y: YamlFile, e: ErrorObject): void {
  const path = toPath(e.instancePath);
  const value = valueAt(y.value, path);
  const parent = e.parentSchema as { properties?: Record<string, unknown>; description?: string } | undefined;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(e.params['additionalProperty']);
      const known = Object.keys(parent?.properties ?? {});
      const hint = known.length > 0 && known.length <= 40 ? ` (expected one of: ${known.join(', ')})` : '';
      problemAt(problems, y, [...path, key], `unsupported key "${key}"${hint}`, 'key');
      return;
    }
    case 'required':
      problemAt(problems, y, path, `missing required key "${String(e.params['missingProperty'])}"`);
      return;
    case 'type':
      problemAt(problems, y, path, `expected ${String(e.params['type'])}, got ${describeType(value)}`);
      return;
    case 'const':
      problemAt(problems, y, path, `expected ${JSON.stringify(e.params['allowedValue'])}, got ${describeType(value)}`);
      return;
    case 'enum':
      if (e.propertyName !== undefined) {
        problemAt(
          problems,
          y,
          [...path, e.propertyName],
          `unsupported key "${e.propertyName}" (expected one ` +
            `of: ${(e.params['allowedValues'] as unknown[]).join(', ')})`,
          'key',
        );
        return;
      }
      problemAt(
        problems,
        y,
        path,
        `expected one of ${(e.params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, ` +
          `got ${describeType(value)}`,
      );
      return;
    case 'pattern': {
      if (e.propertyName !== undefined) {
        problemAt(
          problems,
          y,
          [...path, e.propertyName],
          `name "${e.propertyName}" is not allowed: it must match ${String(e.params['pattern'])}`,
          'key',
        );
        return;
      }
      const pattern = String(e.params['pattern']);
      const custom = (e.parentSchema as { 'x-expected'?: string } | undefined)?.['x-expected'];
      const expected =
        custom ??
        (pattern.includes('ms|s|m|h')
          ? 'a duration like 500ms, 30s, 5m or 1m30s'
          : pattern.includes('0-9a-f]{64}')
            ? 'a sha256 as 64 lowercase hex digits'
            : `a value matching ${pattern}`);
      problemAt(problems, y, path, `expected ${expected}, got ${describeType(value)}`);
      return;
    }
    case 'propertyNames':
      return; // reported through the nested pattern error
    case 'if':
      return; // reported through the errors of the branch that applied
    default:
      problemAt(problems, y, path, `${e.instancePath || 'document'} ${e.message ?? 'is invalid'}`);
  }
}

/** Validates `y.value` against a schema; returns true when valid. */
export function validateSchema(name: SchemaName, y: YamlFile, problems: Problems): boolean {
  const v = validators[name];
  if (v(y.value)) return true;
  const seen = new Set<string>();
  for (const e of prune(v.errors ?? [])) {
    const key = `${e.instancePath}|${e.keyword}|${JSON.stringify(e.params)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    report(problems, y, e);
  }
  return false;
}
