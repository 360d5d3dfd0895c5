// The outbox on disk: events survive a restart, leave only when acknowledged, are bounded with
// the oldest dropped first and counted as lost; a file that cannot be sent is set aside once
// (bounded) and counted rather than holding the rest back or being sent again and again; events
// are written storable; and the reports' numbering survives restarts.

import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ReportEvent } from '../../src/model/index.js';
import { Outbox, writeOutboxEvents } from '../../src/report/index.js';
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

test('events another process writes are taken in by rescan, in order, within the bound, and not twice', async () => {
  const dir = join(tempDir(), 'outbox');
  const box = await Outbox.open(dir, 1500);
  const mine = event(1);
  await box.add(mine);
  // The worker's side: it only writes files; the reporting process indexes, bounds and sends them.
  const theirs = [event(2), event(3)];
  await writeOutboxEvents(dir, theirs);
  assert.equal(box.size, 1, 'unseen until rescanned');
  assert.equal(await box.rescan(), 2);
  assert.equal(await box.rescan(), 0, 'nothing is taken in twice');
  assert.deepEqual(await box.oldest(10, 1 << 20), [mine, ...theirs]);
  await box.acknowledge([mine.id, theirs[0]!.id], 0);
  assert.equal(await box.rescan(), 0, 'a delivered event does not come back');
  assert.deepEqual(await box.oldest(10, 1 << 20), [theirs[1]]);
  // Past the bound, the oldest go and are counted, as when the reporting process adds them itself.
  const big = Array.from({ length: 5 }, (_, i) => event(10 + i, 'x'.repeat(400)));
  await writeOutboxEvents(dir, big);
  assert.equal(await box.rescan(), 5);
  const kept = await box.oldest(10, 1 << 20);
  assert.deepEqual(kept, big.slice(5 - kept.length));
  assert.equal(box.lost, 6 - kept.length);
  assert.equal(readdirSync(dir).filter((f) => f.endsWith('.json')).length, kept.length, 'the dropped files are gone');
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

test('a file that cannot be sent is set aside once, to outbox/rejected, counted as lost and said once', async () => {
  const dir = join(tempDir(), 'outbox');
  const box = await Outbox.open(dir, 1 << 20);
  const good = event(1);
  await box.add(good);
  const name = (n: number, id: string) => `${String(1000 + n).padStart(15, '0')}-000000-${id}.json`;
  const other = event(2);
  const x = Outbox.newId();
  writeFileSync(join(dir, name(1, x)), JSON.stringify(other)); // its name says x, its content another event
  writeFileSync(join(dir, name(2, Outbox.newId())), '{"id": "torn');
  writeFileSync(join(dir, name(3, Outbox.newId())), '[]');
  const y = Outbox.newId();
  writeFileSync(join(dir, name(4, y)), JSON.stringify({ id: y, at: good.at }));
  mkdirSync(join(dir, name(5, Outbox.newId())));
  writeFileSync(join(dir, name(6, Outbox.newId())), `"${'x'.repeat(300 * 1024)}"`); // never read whole
  const again = await Outbox.open(dir, 1 << 30);
  assert.equal(again.size, 7);
  assert.deepEqual(await again.oldest(100, 1 << 20), [good]);
  assert.equal(again.size, 1);
  assert.equal(again.lost, 6);
  assert.deepEqual(
    again.problems.map((p) => p.message.replace(/ \(.*/, '')),
    [
      `its name says event ${x} and its content event ${other.id}`,
      'it is not JSON, torn or edited by hand',
      'it holds no event',
      'it holds no event',
      'it cannot be read',
      'it cannot be read',
    ],
  );
  assert.match(again.problems[5]!.message, /307202 bytes, more than any event/);
  assert.equal(readdirSync(join(dir, 'rejected')).length, 6);
  again.problems.splice(0);
  assert.deepEqual(await again.oldest(100, 1 << 20), [good], 'the next read finds only the good one');
  assert.deepEqual(again.problems, [], 'each is said once');
});

test('outbox/rejected keeps its newest files, within bounds', async () => {
  const dir = join(tempDir(), 'outbox');
  await Outbox.open(dir, 1 << 20);
  for (let i = 0; i < 130; i++)
    writeFileSync(join(dir, `${String(1000 + i).padStart(15, '0')}-000000-${Outbox.newId()}.json`), 'torn {');
  const box = await Outbox.open(dir, 1 << 20);
  assert.deepEqual(await box.oldest(1000, 1 << 30), []);
  assert.equal(box.lost, 130);
  const kept = readdirSync(join(dir, 'rejected')).sort();
  assert.equal(kept.length, 100);
  assert.match(kept.at(-1)!, /^000000000001129-/, 'the newest stay');
});

test('an event enters the outbox storable: a NUL or a lone surrogate becomes U+FFFD', async () => {
  const dir = join(tempDir(), 'outbox');
  const box = await Outbox.open(dir, 1 << 20);
  await box.add({ ...event(1), detail: 'flash failed\u0000 at \uD800 block 7' });
  const file = readdirSync(dir).find((f) => f.endsWith('.json'))!;
  assert.doesNotMatch(readFileSync(join(dir, file), 'utf8'), /\\u0000|\\ud800/i);
  const [back] = await box.oldest(10, 1 << 20);
  assert.equal(back!.detail, 'flash failed\uFFFD at \uFFFD block 7');
});

test('reports are numbered in order across restarts; a wiped or unreadable numbering starts anew', async () => {
  const dir = join(tempDir(), 'outbox');
  const first = await Outbox.open(dir, 1 << 20);
  const a = await first.nextSequence();
  const b = await first.nextSequence();
  assert.equal(a.boot, b.boot);
  assert.ok(b.seq > a.seq && a.seq >= 1);
  const again = await Outbox.open(dir, 1 << 20);
  const c = await again.nextSequence();
  assert.equal(c.boot, a.boot, 'a restart keeps the numbering');
  assert.ok(c.seq > b.seq, `${c.seq} comes after ${b.seq}`);
  // Many reports: one write per block, and still in order.
  let last = c.seq;
  for (let i = 0; i < 2500; i++) {
    const s = await again.nextSequence();
    assert.ok(s.seq > last);
    last = s.seq;
  }
  const after = await (await Outbox.open(dir, 1 << 20)).nextSequence();
  assert.ok(after.seq > last && after.boot === a.boot);
  rmSync(join(dir, 'sequence'));
  const wiped = await (await Outbox.open(dir, 1 << 20)).nextSequence();
  assert.notEqual(wiped.boot, a.boot, 'a wiped state directory starts a numbering of its own');
  writeFileSync(join(dir, 'sequence'), '{"boot": "x", "reserved": 1e400}');
  const bad = await Outbox.open(dir, 1 << 20);
  assert.match(bad.problems[0]!.message, /not what rollgate wrote; reports are numbered anew/);
  assert.notEqual((await bad.nextSequence()).boot, 'x');
});
