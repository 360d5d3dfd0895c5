// Colours by meaning: the table of (condition, status) → meaning walked row by row, and each
// meaning as the page paints it. Bad is red whatever the boolean: Stalled=True is red, and
// Stalled=False or Reconciling=False on a healthy gateway is not.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONDITION_TYPES, type ConditionStatus, type ConditionType } from '../../src/model/index.js';
import { CONDITION_MEANING, meaningOf, type Meaning } from '../../src/hub/meaning.js';
import { conditionCell } from '../../src/hub/page-parts.js';

const EXPECTED: [ConditionType, ConditionStatus, Meaning][] = [
  ['Ready', 'True', 'good'],
  ['Ready', 'False', 'bad'],
  ['Ready', 'Unknown', 'unknown'],
  ['Healthy', 'True', 'good'],
  ['Healthy', 'False', 'bad'],
  ['Healthy', 'Unknown', 'unknown'],
  ['Stalled', 'True', 'bad'],
  ['Stalled', 'False', 'good'],
  ['Stalled', 'Unknown', 'unknown'],
  ['Reconciling', 'True', 'busy'],
  ['Reconciling', 'False', 'quiet'],
  ['Reconciling', 'Unknown', 'unknown'],
];

test('every condition type and status has the meaning an operator reads in it', () => {
  assert.deepEqual(Object.keys(CONDITION_MEANING).sort(), [...CONDITION_TYPES].sort(), 'one row per condition type');
  for (const [type, status, meaning] of EXPECTED) {
    assert.equal(CONDITION_MEANING[type][status], meaning, `${type}=${status}`);
    assert.equal(meaningOf(type, status), meaning, `${type}=${status}`);
    const cell = conditionCell(type, status).text;
    assert.match(cell, new RegExp(`class="m-${meaning}"`), `${type}=${status} is painted ${meaning}: ${cell}`);
  }
  assert.equal(EXPECTED.length, CONDITION_TYPES.length * 3, 'the walk covers the whole table');
});

test('only bad news is red: a healthy gateway (Ready, Healthy, not Stalled, not Reconciling) has no red cell', () => {
  const healthy: [ConditionType, ConditionStatus][] = [
    ['Ready', 'True'],
    ['Healthy', 'True'],
    ['Stalled', 'False'],
    ['Reconciling', 'False'],
  ];
  for (const [t, s] of healthy) assert.doesNotMatch(conditionCell(t, s).text, /m-bad/, `${t}=${s}`);
  assert.match(conditionCell('Stalled', 'True').text, /m-bad/);
});

test('a type or status the hub does not know is painted as nothing in particular', () => {
  assert.equal(meaningOf('Frobbed', 'True'), 'unknown');
  assert.equal(meaningOf('Ready', undefined), 'unknown');
  assert.equal(meaningOf('Ready', 'Maybe'), 'unknown');
});
