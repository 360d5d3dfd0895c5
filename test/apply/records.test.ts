// Files of the state directory edited or damaged from outside: the journal and a component's
// record of the wrong shape are errors that name the file, the field and what to do — never a
// TypeError deep inside a resume.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Journal, JournalError } from '../../src/apply/index.js';
import { readRecord, RecordError } from '../../src/apply/interface/component-record.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';

describe('state files of the wrong shape', () => {
  const dir = tempDir('rollgate-records-');
  after(() => cleanup(dir));

  const plan = {
    schema: 'rollgate.plan/v1',
    desired: { source: { commit: 'c' }, target: 't', system: 's' },
    against: 'live',
    changes: [],
    prepare: [],
    stages: [
      {
        name: 'group 0',
        order: 0,
        steps: [{ id: 'install component/G13', kind: 'install', target: { kind: 'component' }, dependsOn: [] }],
      },
    ],
    finalize: [],
    rollback: ['group 0'],
    unchanged: { components: [], services: [] },
  };
  const journal = {
    schema: 'rollgate.journal/v1',
    txn: 't',
    startedAt: 'now',
    phase: 'stages',
    plan,
    steps: {},
    order: [],
  };
  test('a journal whose steps are a list is damaged, said so with what to do', async () => {
    const file = join(dir, 'journal.json');
    writeFileSync(file, JSON.stringify({ ...journal, steps: [] }));
    await assert.rejects(
      new Journal(file).load(),
      /journal\.json is damaged: steps is a list, expected an object.*move it aside to continue/,
    );
  });

  test('a component record whose target is a string names the record and the field', async () => {
    const file = join(dir, 'record.json');
    writeFileSync(file, JSON.stringify({ schema: 'rollgate.component/v1', target: 'G13' }));
    await assert.rejects(
      readRecord(file),
      /record\.json cannot be read \(target is a string \("G13"\), expected an object\).*move it aside/,
    );
    writeFileSync(
      file,
      JSON.stringify({ schema: 'rollgate.component/v1', target: { key: 'G13', interface: 'x' }, installed: 3 }),
    );
    await assert.rejects(readRecord(file), /target\.type is missing/);
  });

  const JOURNALS: [string, unknown, RegExp][] = [
    ['null', null, /the file holds null, expected an object/],
    ['a list', [], /the file holds a list/],
    ['a number', 42, /the file holds a number \(42\)/],
    ['no txn', { ...journal, txn: undefined }, /txn is missing/],
    ['a step record of the wrong shape', { ...journal, steps: { x: { status: 3 } } }, /steps\.x\.status is a number/],
    ['order not a list', { ...journal, order: 'x' }, /order is a string/],
    ['a plan without stages', { ...journal, plan: { ...plan, stages: undefined } }, /plan\.stages is missing/],
    [
      'a step without its target',
      {
        ...journal,
        plan: { ...plan, stages: [{ name: 'g', order: 0, steps: [{ id: 'x', kind: 'install', dependsOn: [] }] }] },
      },
      /plan\.stages\[0\]\.steps\[0\]\.target is missing/,
    ],
  ];

  test('a journal of any wrong shape names the file and the field, and is left for inspection', async () => {
    for (const [name, doc, why] of JOURNALS) {
      const file = join(dir, 'journal.json');
      const text = JSON.stringify(doc);
      writeFileSync(file, text);
      await assert.rejects(
        new Journal(file).load(),
        (e: unknown) => e instanceof JournalError && e.message.includes(file) && why.test(e.message),
        name,
      );
      assert.equal(readFileSync(file, 'utf8'), text);
    }
    const file = join(dir, 'journal.json');
    writeFileSync(file, JSON.stringify(journal));
    assert.equal((await new Journal(file).load())?.txn, 't', 'a journal of the right shape loads');
  });

  test('the desired state kept beside the journal, of a wrong shape, names the file and the field', async () => {
    const file = join(dir, 'j2.json');
    for (const [doc, why] of [
      [null, /the file holds null/],
      [
        { schema: 'rollgate.desired/v1', source: {}, device: { id: 'g', labels: {} }, target: 't', system: 's' },
        /components is missing/,
      ],
    ] as const) {
      writeFileSync(`${file}.desired`, JSON.stringify(doc));
      await assert.rejects(
        new Journal(file).loadDesired(),
        (e: unknown) => e instanceof JournalError && why.test(e.message),
      );
    }
  });

  test('a component record of any wrong shape names the record and the field', async () => {
    const file = join(dir, 'state.json');
    const target = { key: 'G13', type: 'rootfs-image', interface: 'x', interfaceArgs: [], protocol: 'manifest' };
    const update = { txn: 't', to: 'v2', supportsRollback: true, unpacked: true, progress: 'installing' };
    for (const [doc, why] of [
      [null, /the file holds null/],
      [[], /the file holds a list/],
      ['G13', /the file holds a string/],
      [
        { schema: 'rollgate.component/v1', target, update: { ...update, progress: 'sideways' } },
        /update\.progress is a string \("sideways"\), expected one of downloading/,
      ],
      [{ schema: 'rollgate.component/v1', target, update: 7 }, /update is a number/],
      [{ schema: 'rollgate.component/v1', target, update: { ...update, to: undefined } }, /update\.to is missing/],
    ] as const) {
      writeFileSync(file, JSON.stringify(doc));
      await assert.rejects(
        readRecord(file),
        (e: unknown) => e instanceof RecordError && e.message.includes(file) && why.test(e.message),
      );
    }
    writeFileSync(file, JSON.stringify({ schema: 'rollgate.component/v1', target, update }));
    assert.equal((await readRecord(file))?.update?.progress, 'installing');
  });
});
