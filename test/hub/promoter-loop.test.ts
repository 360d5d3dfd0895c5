// The promoter inside `rollgate hub`: the hub as a process, given the repo and its key in hub.yaml,
// opens the next wave on its own when the evidence its gateways sent passes the gate, and holds
// while the rollout is paused; on one PostgreSQL several hubs run each round once — a round whose
// advisory lock another holds is skipped, and two hubs' rounds at once write one step.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Hub, migrate, openDatabase, PROMOTER_LOCK } from '../../src/hub/index.js';
import { readSigner } from '../../src/promoter/index.js';
import { rollgate } from '../helpers/cli.js';
import { hubDatabases } from '../helpers/hub.js';
import { freePort, HubProcess } from '../helpers/hub-lab.js';
import { Lines } from '../helpers/log-lines.js';
import { CANARIES, PromoterLab } from '../helpers/promoter-lab.js';

const dbs = await hubDatabases();
after(() => dbs.stop());

async function until<T>(what: string, f: () => T | undefined, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** The canaries healthy on `target` for the soak (1s), confirmed by a report after it. */
async function canariesHealthy(lab: PromoterLab, target: string): Promise<void> {
  for (let i = 0; i < 2; i++) {
    if (i) await sleep(1_100);
    for (const id of CANARIES) await lab.report(id, { runs: target, healthy: true, verdicts: [['applied', target]] });
  }
}

/** The base and the target on the branch; the target's commit. */
function commitBoth(lab: PromoterLab): { base: string; target: string } {
  const base = lab.commitFleet('system v1');
  return { base, target: lab.commitFleet('system v2', (f) => f.replace('LOG_LEVEL: debug', 'LOG_LEVEL: trace')) };
}

async function startRollout(lab: PromoterLab, commits = commitBoth(lab)): Promise<string> {
  const { base, target } = commits;
  const r = await lab.rollout(
    'start',
    '--target',
    target,
    '--base',
    base,
    '--id',
    'edge-v2',
    '--by',
    'a@b',
    '--why',
    'v2',
  );
  assert.equal(r.code, 0, r.err);
  return target;
}

describe('rollgate hub --promote-repo, as a process on the embedded database', () => {
  const lab = new PromoterLab();
  let hub: HubProcess | undefined;
  before(() => lab.init({ inProcessHub: false }));
  after(async () => {
    await hub?.kill('SIGTERM');
    await lab.close();
  });

  test('a promoter without a signing key stops the hub at start, saying so', async () => {
    const r = await rollgate(
      'hub',
      '--data-dir',
      join(lab.root, 'nothing'),
      '--listen',
      '127.0.0.1:0',
      '--promote-repo',
      lab.url,
    );
    assert.equal(r.code, 1);
    assert.match(r.err, /the promoter signs each step: give --promote-signing-key \(promoter\.signingKey\)/);
  });

  test('the hub opens the next wave on its own evidence, and holds while the rollout is paused', async () => {
    const data = join(lab.root, 'hub');
    const db = await openDatabase({ dataDir: data });
    await migrate(db);
    await lab.prepareHub(db);
    await db.close();
    const config = join(lab.root, 'hub.yaml');
    writeFileSync(
      config,
      `promoter:\n  repo: ${lab.url}\n  signingKey: ${lab.keyFile}\n  by: promoter@hub-test\n  interval: 300ms\n`,
    );
    const port = await freePort();
    lab.hubUrl = `http://127.0.0.1:${port}`;
    hub = new HubProcess(['--data-dir', data, '--listen', `127.0.0.1:${port}`, '--config', config]);
    await hub.listening();
    const target = await startRollout(lab);
    await canariesHealthy(lab, target);
    const s = await until('the hub to open wave 2', () => {
      const st = lab.stateAt();
      return st.waves.fleet.length === 2 ? st : undefined;
    });
    const step = s.steps.at(-1)!;
    assert.deepEqual([step.action, step.by, step.track, step.wave], ['open', 'promoter@hub-test', 'fleet', 1]);
    assert.deepEqual([step.evidence?.decision, step.evidence?.healthy], ['advance', 2]);
    assert.deepEqual(lab.changed(), ['rollgate-rollout.yaml']);
    await until('the hub to say so', () =>
      /promoter: rollout edge-v2: wave 2 of 3 \\"half\\" of fleet opens \(commit [0-9a-f]{12}\)/.test(hub!.out)
        ? true
        : undefined,
    );

    const r = await lab.rollout('pause', '--by', 'ops@example.com', '--why', 'a look at the canaries');
    assert.equal(r.code, 0, r.err);
    const paused = lab.stateAt().steps.length;
    await until('the hub to see the pause', () =>
      /promoter: rollout edge-v2 is paused by ops@example\.com/.test(hub!.out) ? true : undefined,
    );
    await sleep(1_000);
    assert.equal(lab.stateAt().steps.length, paused, 'nothing written while paused');
    await hub.kill('SIGTERM');
    assert.deepEqual(await hub.exited, { code: 0, signal: null });
    hub = undefined;
  });
});

const pg = dbs.kinds.find((k) => k.name === 'postgres');

describe('several hubs on one PostgreSQL: each round runs once', { skip: pg ? false : 'PostgreSQL is missing' }, () => {
  const lab = new PromoterLab();
  const hubs: Hub[] = [];
  const logs: Lines[] = [];
  let url = '';
  let commits: { base: string; target: string };
  before(async () => {
    await lab.init({ inProcessHub: false });
    commits = commitBoth(lab);
    const fresh = await pg!.fresh();
    url = fresh.url!;
    const db = await fresh.open();
    await migrate(db);
    await lab.prepareHub(db);
    await db.close();
    const signer = await readSigner(lab.keyFile);
    for (const name of ['a', 'b']) {
      const log = new Lines();
      logs.push(log);
      hubs.push(
        await Hub.start({
          db: await openDatabase({ url, poolSize: 3 }),
          log,
          listen: '127.0.0.1:0',
          jobIntervalMs: 3_600_000,
          promoter: { repo: { repo: lab.url, ref: 'main' }, signer, by: `promoter@hub-${name}`, intervalMs: 3_600_000 },
        }),
      );
      // Its first round, at start, finds no rollout yet.
      await until(`hub ${name}'s first round`, () =>
        log.text.includes('no rollout on this branch') ? true : undefined,
      );
    }
    lab.hubUrl = hubs[0]!.url;
  });
  after(async () => {
    for (const h of hubs) await h.stop();
    await lab.close();
  });

  test("a round whose lock another holds is skipped; two hubs' rounds at once write one step", async () => {
    const target = await startRollout(lab, commits);
    await canariesHealthy(lab, target);
    const head = lab.head();
    const holder = await openDatabase({ url, poolSize: 1 });
    let release!: () => void;
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const held = holder.transaction(async (tx) => {
      await tx.query('select pg_advisory_xact_lock($1)', [PROMOTER_LOCK]);
      locked();
      await new Promise<void>((r) => (release = r));
    });
    await isLocked;
    assert.deepEqual(await Promise.all(hubs.map((h) => h.promoter!.round())), ['skipped', 'skipped']);
    assert.equal(lab.head(), head, 'nothing written while another holds the round');
    release();
    await held;
    await holder.close();
    const rounds = await Promise.all(hubs.map((h) => h.promoter!.round()));
    const writes = rounds.filter((r) => typeof r === 'object' && r.outcome.kind === 'write');
    assert.equal(writes.length, 1, JSON.stringify(rounds.map((r) => (typeof r === 'object' ? r.outcome : r))));
    const s = lab.stateAt();
    assert.equal(s.steps.filter((x) => x.action === 'open').length, 1, 'one step');
    assert.match(s.steps.at(-1)!.by, /^promoter@hub-[ab]$/);
  });

  test('a round that cannot reach the git server writes nothing, says so, and the next round goes on', async () => {
    const head = lab.head();
    lab.server.fault = 'error500';
    const hub = hubs[0]!;
    try {
      assert.equal(await hub.promoter!.round(), 'failed');
    } finally {
      lab.server.fault = 'none';
    }
    assert.equal(lab.head(), head);
    assert.match(
      logs[0]!.text,
      /promoter: the round failed and wrote nothing; the rollout holds, and the next round tries again/,
    );
    const next = await hub.promoter!.round();
    assert.ok(typeof next === 'object' && next.outcome.kind === 'none', 'the half wave waits');
  });
});
