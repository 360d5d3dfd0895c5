// ${VAR} interpolation and .env files with the Compose specification's semantics, as a table.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { interpolate, InterpolationError, parseEnvFile } from '../../src/manifest/compose/index.js';

const vars = new Map([
  ['SET', 'value'],
  ['EMPTY', ''],
  ['PORT', '8086'],
  ['NESTED', 'inner'],
]);

describe('interpolation, as Compose does it', () => {
  const rows: [string, string, string[]][] = [
    ['plain text', 'plain text', []],
    ['$SET', 'value', []],
    ['${SET}', 'value', []],
    ['a-${SET}-b', 'a-value-b', []],
    ['${UNSET}', '', ['UNSET']],
    ['$UNSET/x', '/x', ['UNSET']],
    ['${EMPTY}', '', []],
    ['${SET:-d}', 'value', []],
    ['${EMPTY:-d}', 'd', []],
    ['${UNSET:-d}', 'd', []],
    ['${SET-d}', 'value', []],
    ['${EMPTY-d}', '', []],
    ['${UNSET-d}', 'd', []],
    ['${SET:+r}', 'r', []],
    ['${EMPTY:+r}', '', []],
    ['${UNSET:+r}', '', []],
    ['${SET+r}', 'r', []],
    ['${EMPTY+r}', 'r', []],
    ['${UNSET+r}', '', []],
    ['${UNSET:-${NESTED}}', 'inner', []],
    ['${UNSET:-${ALSO_UNSET:-deep}}', 'deep', []],
    ['${UNSET:-a:b}', 'a:b', []],
    ['$$SET', '$SET', []],
    ['$${SET}', '${SET}', []],
    ['cost: 5$', 'cost: 5$', []],
    ['${PORT}:8086', '8086:8086', []],
    ['${SET:?needed}', 'value', []],
    ['${EMPTY?needed}', '', []],
  ];
  for (const [input, want, unset] of rows) {
    test(JSON.stringify(input), () => {
      const r = interpolate(input, vars);
      assert.equal(r.value, want);
      assert.deepEqual(r.unset, unset);
    });
  }

  const errors: [string, RegExp][] = [
    ['${UNSET:?set it please}', /required variable UNSET is not set: set it please/],
    ['${EMPTY:?must not be empty}', /required variable EMPTY is empty: must not be empty/],
    ['${UNSET?}', /required variable UNSET is not set: UNSET must be set/],
    ['${SET', /has no closing \}/],
    ['${}', /is not a variable reference/],
    ['${1ABC}', /is not a variable reference/],
    ['${SET:x}', /unknown modifier ":x"/],
  ];
  for (const [input, re] of errors) {
    test(`${JSON.stringify(input)} is an error`, () => {
      assert.throws(
        () => interpolate(input, vars),
        (e: unknown) => e instanceof InterpolationError && re.test(e.message),
      );
    });
  }
});

describe('.env files, as Compose reads them', () => {
  test('quotes, comments, export, interpolation of earlier keys and of the outer variables', () => {
    const text = [
      '# a comment',
      'export A=1',
      'B = two words  # trailing comment',
      "C='single ${A} $$ kept'",
      'D="double ${A} and \\"quotes\\"\\nnext"',
      'E=${A}-${OUTER}',
      'F="multi',
      'line"',
      'G=',
      'OUTER',
      'H=url#fragment',
    ].join('\n');
    const r = parseEnvFile(text, new Map([['OUTER', 'out']]));
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.env, {
      A: '1',
      B: 'two words',
      C: 'single ${A} $$ kept',
      D: 'double 1 and "quotes"\nnext',
      E: '1-out',
      F: 'multi\nline',
      G: '',
      OUTER: 'out',
      H: 'url#fragment',
    });
  });

  test('a broken line is reported with its number, the others are kept', () => {
    const r = parseEnvFile('A=1\nthis is not an assignment\nB="open\n');
    assert.equal(r.env['A'], '1');
    assert.deepEqual(
      r.errors.map((e) => e.line),
      [2, 3],
    );
  });
});

describe('provenance: which variables went into a value', () => {
  const secret = new Set(['PASSWORD']);
  const scope = new Map([...vars, ['PASSWORD', 'pw-secret-9']]);

  test('the variables whose values went in, and none whose value did not', () => {
    assert.deepEqual(interpolate('${SET}-$PORT', scope).used.sort(), ['PORT', 'SET']);
    assert.deepEqual(interpolate('${UNSET:-${SET}}', scope).used, ['SET']);
    assert.deepEqual(interpolate('${SET:+alt}', scope).used, [], 'only whether it is set went in');
    assert.deepEqual(interpolate('$$SET', scope).used, []);
  });

  test('a required-variable message quotes the file, not a hidden value its text interpolates', () => {
    assert.throws(
      () => interpolate('${UNSET:?cannot log in with ${PASSWORD}}', scope, secret),
      (e: unknown) =>
        e instanceof InterpolationError &&
        e.message === 'required variable UNSET is not set: cannot log in with ${PASSWORD}' &&
        e.brief === 'required variable UNSET is not set',
    );
    assert.throws(
      () => interpolate('${UNSET:?at ${SET}}', scope, secret),
      (e: unknown) => e instanceof InterpolationError && e.message.endsWith(': at value'),
    );
  });

  test('.env keys made from hidden variables are derived; errors have a version that quotes nothing', () => {
    const r = parseEnvFile(
      'DSN=db://u:${PASSWORD}@h\nCOPY=$DSN\nPLAIN=${SET}\nLATER=x\nLATER=${PASSWORD}\n' +
        'BAD="x" tail-secret\nUNCLOSED=${OOPS\n',
      scope,
      secret,
    );
    assert.deepEqual(r.derived.sort(), ['COPY', 'DSN', 'LATER']);
    assert.deepEqual(
      r.errors.map((e) => [e.line, e.brief]),
      [
        [6, 'BAD: unexpected text after the closing quote'],
        [7, 'UNCLOSED: a ${ has no closing }'],
      ],
    );
    assert.match(r.errors[0]!.message, /tail-secret/, 'the full message (for repo files) still says what');
  });
});
