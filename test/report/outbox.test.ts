// The outbox on disk: events survive a restart, leave only when acknowledged, are bounded with
// the oldest dropped first and counted as lost, and a file that cannot be read back is dropped
// and counted rather than holding the rest back.

import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ReportEvent } from '../../src/model/index.js';
import { Outbox } from '../../src/report/index.js';
import { tempDir } from '../helpers/fixtures.js';

const event = (n: number, detail = ''): ReportEvent => ({
  id: Outbox.newId(),
  at: new Date(Date.UTC(2026, 10, 30, 12, 0, n)).toISOString(),
  verdict: 'applied',
  commit: `${n}`.padStart(40, 'a'),
  ...(detail ? { detail } : {}),
});

test('events come back oldest first across a restart, and leave only when acknowledged', async () => {
  const dir = join(tempDir(), 'outbox');
  const box = await Outbox.open(dir, 1 << 20);
  const sent = [event(1), event(2), event(3)];
  for (const e of sent) await box.add(e);
  const again = await Outbox.open(dir, 1 << 20);
  assert.equal(again.size, 3);
  const first = await again.oldest(2, 1 << 20);
  assert.deepEqual(first, sent.slice(0, 2));
  await again.acknowledge([sent[0]!.id], 0);
  const reopened = await Outbox.open(dir, 1 << 20);
  assert.deepEqual(await reopened.oldest(10, 1 << 20), sent.slice(1));
  assert.equal(reopened.lost, 0);
});

test('past its bound the oldest events go, and how many is kept until the hub is told', async () => {
  const dir = join(tempDir(), 'outbox');
  const big = 'x'.repeat(400);
  const box = await Outbox.open(dir, 1500); // about three events of ~500 bytes
  const all = Array.from({ length: 6 }, (_, i) => event(i, big));
  for (const e of all) await box.add(e);
  const kept = await box.oldest(10, 1 << 20);
  assert.ok(kept.length >= 2 && kept.length < 6, `kept ${kept.length}`);
  assert.deepEqual(kept, all.slice(6 - kept.length), 'the newest are the ones kept');
  assert.equal(box.lost, 6 - kept.length);
  const reopened = await Outbox.open(dir, 1500);
  assert.equal(reopened.lost, 6 - kept.length, 'the lost count survives a restart');
  await reopened.acknowledge([], 2);
  assert.equal(reopened.lost, 6 - kept.length - 2, 'what the hub was told is subtracted');
});

test('one event larger than the bound is still kept: it is the newest', async () => {
  const box = await Outbox.open(join(tempDir(), 'outbox'), 100);
  const e = event(1, 'y'.repeat(500));
  await box.add(e);
  assert.deepEqual(await box.oldest(10, 1 << 20), [e]);
});

test('a torn or foreign file in the outbox is dropped, counted as lost and named', async () => {
  const dir = join(tempDir(), 'outbox');
  const box = await Outbox.open(dir, 1 << 20);
  await box.add(event(1));
  await box.add(event(2));
  const [firstFile] = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  writeFileSync(join(dir, firstFile!), '{"id": "torn');
  writeFileSync(join(dir, 'notes.txt'), 'not an event');
  const again = await Outbox.open(dir, 1 << 20);
  const read = await again.oldest(10, 1 << 20);
  assert.equal(read.length, 1);
  assert.equal(read[0]!.commit, event(2).commit);
  assert.equal(again.lost, 1);
  assert.equal(again.problems.length, 1);
  assert.match(again.problems[0]!.file, new RegExp(firstFile!));
});

test('a batch stops at its byte budget, but always holds at least one event', async () => {
  const box = await Outbox.open(join(tempDir(), 'outbox'), 1 << 20);
  for (let i = 0; i < 5; i++) await box.add(event(i, 'z'.repeat(300)));
  assert.equal((await box.oldest(100, 1000)).length, 2);
  assert.equal((await box.oldest(100, 10)).length, 1);
  assert.equal((await box.oldest(3, 1 << 20)).length, 3);
});
