// Safe YAML parsing with positions. Size and alias limits stop resource exhaustion before it
// starts; node ranges let every later check point at the exact line and column.

import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { Problems } from './problems.js';

export const MAX_YAML_BYTES = 1024 * 1024;
/** Real manifests use a handful of anchors; a bomb needs thousands of alias expansions. */
export const MAX_ALIAS_COUNT = 100;

export type PathSeg = string | number;

export interface YamlFile {
  file: string;
  doc: Document;
  lines: LineCounter;
  value: unknown;
}

export interface Position {
  line: number;
  column: number;
}

export function parseYamlFile(file: string, bytes: Uint8Array, problems: Problems): YamlFile | undefined {
  if (bytes.byteLength > MAX_YAML_BYTES) {
    problems.add({
      file,
      message: `file is ${bytes.byteLength} bytes; the limit for a manifest is ${MAX_YAML_BYTES} bytes`,
    });
    return undefined;
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    problems.add({ file, message: 'file is not valid UTF-8 text' });
    return undefined;
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    uniqueKeys: true,
    prettyErrors: false,
    strict: true,
    version: '1.2',
    merge: true,
  });
  if (doc.errors.length > 0) {
    // A structure nested deeper than the parser can follow shows up as many stack overflows: one problem.
    const deep = doc.errors.find((e) => /Maximum call stack size exceeded/.test(e.message));
    for (const e of deep ? [deep] : doc.errors) {
      const pos = lines.linePos(e.pos[0]);
      const message = deep
        ? 'invalid YAML: nested too deeply to read (thousands of levels); no manifest needs that, so it is refused'
        : `invalid YAML: ${firstLine(e.message)}`;
      problems.add({ file, line: pos.line, column: pos.col, message });
    }
    return undefined;
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    problems.add({
      file,
      line: 1,
      column: 1,
      message: `YAML rejected: ${(err as Error).message} (at most ${MAX_ALIAS_COUNT} alias expansions)`,
    });
    return undefined;
  }
  return { file, doc, lines, value };
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

/** Position of the node at `path`, or of its key; falls back to the nearest existing ancestor. */
export function positionOf(y: YamlFile, path: readonly PathSeg[], which: 'key' | 'value' = 'value'): Position {
  let node: unknown = y.doc.contents;
  let keyNode: unknown;
  for (const seg of path) {
    let next: unknown;
    let nextKey: unknown;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair) {
        next = pair.value ?? pair.key;
        nextKey = pair.key;
      }
    } else if (isSeq(node) && typeof seg === 'number') {
      next = node.items[seg];
      nextKey = next;
    }
    if (next === undefined) break;
    node = next;
    keyNode = nextKey;
  }
  const target = (which === 'key' && keyNode ? keyNode : node) as Node | null | undefined;
  const offset = target?.range?.[0] ?? 0;
  const pos = y.lines.linePos(offset);
  return { line: pos.line, column: pos.col };
}

export function problemAt(
  problems: Problems,
  y: YamlFile,
  path: readonly PathSeg[],
  message: string,
  which: 'key' | 'value' = 'value',
  rule?: string,
): void {
  const pos = positionOf(y, path, which);
  problems.add(
    { file: y.file, line: pos.line, column: pos.column, message, ...(rule ? { rule } : {}) },
    { file: y.file, path },
  );
}
