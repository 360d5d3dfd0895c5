// Files of the state directory edited or damaged from outside: the journal and a component's
// record of the wrong shape are errors that name the file, the field and what to do — never a
// TypeError deep inside a resume.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Journal } from '../../src/apply/index.js';
import { readRecord } from '../../src/apply/interface/component-record.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';

describe('state files of the wrong shape', () => {
  const dir = tempDir('rollgate-records-');
  after(() => cleanup(dir));

  test('a journal whose steps are a list is damaged, said so with what to do', async () => {
    const file = join(dir, 'journal.json');
    writeFileSync(
      file,
      JSON.stringify({
        schema: 'rollgate.journal/v1',
        txn: 't',
        phase: 'stages',
        steps: [],
        order: [],
        plan: { stages: [] },
      }),
    );
    await assert.rejects(
      new Journal(file).load(),
      /journal\.json is damaged: steps is not a map .*remove it to continue/,
    );
  });

  test('a component record whose target is a string names the record and the field', async () => {
    const file = join(dir, 'record.json');
    writeFileSync(file, JSON.stringify({ schema: 'rollgate.component/v1', target: 'G13' }));
    await assert.rejects(
      readRecord(file),
      /record\.json cannot be read \(target is not \{ key, interface.*move it aside/,
    );
    writeFileSync(
      file,
      JSON.stringify({ schema: 'rollgate.component/v1', target: { key: 'G13', interface: 'x' }, installed: 3 }),
    );
    await assert.rejects(readRecord(file), /installed is not a string/);
  });
});
