// The README's promise about the architecture: data flows one way, down the Development table —
// a folder of src/ imports only from folders above it there. Read from the README and the code.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from './helpers/fixtures.js';

test('every import in src/ goes to the same folder or one above it in the README table', () => {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
  const order = [...readme.matchAll(/^\| `src\/(\w+)` \|/gm)].map((m) => m[1]!);
  const folders = readdirSync(join(projectRoot, 'src'));
  assert.deepEqual([...order].sort(), [...folders].sort(), 'the table lists every folder of src/');
  const files = readdirSync(join(projectRoot, 'src'), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'));
  const wrong: string[] = [];
  for (const f of files) {
    const me = f.split('/')[0]!;
    const text = readFileSync(join(projectRoot, 'src', f), 'utf8');
    for (const m of text.matchAll(/from '(\.[^']+)'/g)) {
      const target = relative(join(projectRoot, 'src'), normalize(join(projectRoot, 'src', dirname(f), m[1]!)));
      const other = target.split('/')[0]!;
      if (other !== me && order.indexOf(other) > order.indexOf(me)) wrong.push(`src/${f} imports ${m[1]}`);
    }
  }
  assert.deepEqual(wrong, [], 'imports that go against the flow');
});

test('docs/ARCHITECTURE.md lists the stages in the README table’s order, each with its own section', () => {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
  const order = [...readme.matchAll(/^\| `src\/(\w+)` \|/gm)].map((m) => m[1]!);
  const doc = readFileSync(join(projectRoot, 'docs', 'ARCHITECTURE.md'), 'utf8');
  const table = [...doc.matchAll(/^\| \d+ \| `src\/(\w+)` \|/gm)].map((m) => m[1]!);
  assert.deepEqual(table, order, 'the stage table');
  const sections = [...doc.matchAll(/^### \w+ \(`src\/(\w+)`\)/gm)].map((m) => m[1]!);
  assert.deepEqual(sections, order, 'the stage-by-stage sections');
});

/** Every relative module a source file names: imports, re-exports, side-effect and dynamic imports. */
function modulesOf(text: string): string[] {
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)'(\.[^']+)'/gm;
  return [...text.matchAll(re)].map((m) => m[1]!);
}

/** The folder of src/ each relative module of src/<file> is in. */
function foldersNamed(file: string): { module: string; folder: string }[] {
  const text = readFileSync(join(projectRoot, 'src', file), 'utf8');
  return modulesOf(text).map((module) => ({
    module,
    folder: relative(join(projectRoot, 'src'), normalize(join(projectRoot, 'src', dirname(file), module))).split(
      '/',
    )[0]!,
  }));
}

const sources = () =>
  readdirSync(join(projectRoot, 'src'), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'));

test('dynamic imports and side-effect imports go down the README table too', () => {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
  const order = [...readme.matchAll(/^\| `src\/(\w+)` \|/gm)].map((m) => m[1]!);
  const wrong = sources().flatMap((f) =>
    foldersNamed(f)
      .filter(({ folder }) => folder !== f.split('/')[0] && order.indexOf(folder) > order.indexOf(f.split('/')[0]!))
      .map(({ module }) => `src/${f} imports ${module}`),
  );
  assert.deepEqual(wrong, [], 'imports that go against the flow');
});

test('the stages without effects (ARCHITECTURE: "none") import only src/base and each other', () => {
  const doc = readFileSync(join(projectRoot, 'docs', 'ARCHITECTURE.md'), 'utf8');
  const pure = new Set([...doc.matchAll(/^\| \d+ \| `src\/(\w+)` \|[^|]+\| none\b/gm)].map((m) => m[1]!));
  assert.deepEqual([...pure].sort(), ['manifest', 'model', 'plan', 'rollout'], 'the stages the table calls pure');
  const wrong = sources()
    .filter((f) => pure.has(f.split('/')[0]!))
    .flatMap((f) =>
      foldersNamed(f)
        .filter(({ folder }) => folder !== 'base' && !pure.has(folder))
        .map(({ module }) => `src/${f} imports ${module}`),
    );
  assert.deepEqual(wrong, [], 'a pure stage that imports a stage with effects');
});
