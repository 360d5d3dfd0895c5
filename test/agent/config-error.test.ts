// A fault of the gateway's own configuration is an error of the gateway, never a verdict on the
// commit (DESIGN.md): a gateway id that matches no target, a variables file that is missing, an
// interface that is not installed. And `rollgate forget`, which clears a bad record on one gateway
// with who, when and why in the history. The real agent as a process, a real git server, the
// example's simulated devices behind real `.mender` artifacts.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { AgentState } from '../../src/agent/state.js';
import { callAgent } from '../../src/agent/control.js';
import { AgentProcess, lastHistory } from '../helpers/agent-process.js';
import { rollgate } from '../helpers/cli.js';
import { requireMenderTools } from '../helpers/devices.js';
import { FleetLab } from '../helpers/fleet-lab.js';

const missing = requireMenderTools();

/** A lab whose only target matches gateway gw-test by id, with v2 pushed and the devices on v1. */
async function labOnV2(): Promise<{ lab: FleetLab; commit: string }> {
  const lab = new FleetLab();
  lab.seed((t) => `${t}-v1`);
  lab.init();
  await lab.serve();
  lab.write('v2', true);
  const fleet = join(lab.repo, 'rollgate.yaml');
  writeFileSync(fleet, readFileSync(fleet, 'utf8').replace('match: { any: true }', 'match: { ids: [gw-test] }'));
  const commit = lab.commit('system v2');
  lab.push();
  return { lab, commit };
}

const configErrorOf = (s: AgentState, commit: string) => {
  const h = lastHistory(s, commit);
  return h?.event === 'config-error' ? h : undefined;
};
/** A verdict on the commit: a configuration error, or (wrongly) a bad record. */
const decided = (commit: string) => (s: AgentState) =>
  configErrorOf(s, commit) !== undefined || s.bad.some((b) => b.commit === commit);

describe(
  "the gateway's own configuration at fault: an error of the gateway, never a verdict on the commit",
  { skip: missing ?? false },
  () => {
    const labs: FleetLab[] = [];
    const agents: AgentProcess[] = [];
    after(async () => {
      for (const a of agents) await a.kill();
      for (const l of labs) {
        await l.server?.close();
        l.close();
      }
    });

    test(
      'a gateway id that matches no target records nothing as bad and changes nothing; once the id is ' +
        'fixed, the same commit is applied',
      async () => {
        const { lab, commit } = await labOnV2();
        labs.push(lab);
        // The same flags as the lab's agent, but a typo in the gateway's id.
        const typo = lab.agent({}, ['--interval', '1h', '--id', 'gw-tset']);
        agents.push(typo);
        const s = await typo.until('a configuration error', decided(commit));
        assert.deepEqual(s.bad, [], 'nothing is recorded as bad');
        assert.equal(s.applied, undefined, 'nothing was applied');
        assert.match(configErrorOf(s, commit)!.detail ?? '', /no target matches gateway "gw-tset"/);
        assert.match(configErrorOf(s, commit)!.detail ?? '', /fix gateway\.id, gateway\.labels/);
        const cond = Object.fromEntries(s.conditions.map((c) => [c.type, `${c.status} ${c.reason}`]));
        assert.equal(cond['Stalled'], 'True config-error');
        assert.equal(cond['Ready'], 'False config-error');
        assert.deepEqual(lab.running(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' }, 'nothing changed');
        const sync = await rollgate('sync', '--state-dir', lab.stateDir);
        assert.equal(sync.code, 1);
        assert.match(sync.out, /the gateway's own configuration is at fault, not the commit/);
        const status = await rollgate('status', '--state-dir', lab.stateDir);
        assert.match(status.out, /bad commits +none/);
        assert.match(status.out, /Stalled +True +config-error/);
        const metrics = await (await fetch(await typo.metricsUrl())).text();
        assert.match(metrics, /rollgate_reconciles_total\{result="config-error"\} [1-9]/);
        await typo.stop();

        const fixed = lab.agent({}, ['--interval', '1h']);
        agents.push(fixed);
        const after = await fixed.until('applied with the id fixed', (x) => x.lastGood?.commit === commit);
        assert.deepEqual(after.bad, []);
        lab.expectSettled('v2');
      },
    );

    test('a missing variables file, and an interface that is not installed, are configuration errors', async () => {
      const { lab, commit } = await labOnV2();
      labs.push(lab);
      const vars = join(lab.root, 'gateway.env');
      const a = lab.agent({}, ['--interval', '1h', '--variables-file', vars]);
      agents.push(a);
      const s = await a.until('a configuration error', decided(commit));
      assert.match(
        configErrorOf(s, commit)!.detail ?? '',
        /cannot read the variables file .*gateway\.env: it does not exist/,
      );
      assert.match(configErrorOf(s, commit)!.detail ?? '', /fix gateway\.variablesFile/);
      assert.deepEqual(s.bad, []);
      await a.stop();

      // Every interface directory but the lab's: the gateway-rootfs and rtos interfaces are not installed.
      const empty = join(lab.root, 'no-interfaces');
      mkdirSync(empty, { recursive: true });
      const args = ['--interval', '1h', '--variables-file', vars];
      writeFileSync(vars, 'SITE=berlin\n');
      const b = lab.agent({}, args);
      agents.push(b);
      await b.until('applied once the file is there', (x) => x.lastGood?.commit === commit);
      // The file goes away under the applied commit (a drift check, which sync makes due): an error
      // of the gateway, and when the file is back the conditions it set do not outlive it.
      rmSync(vars);
      const broken = await rollgate('sync', '--state-dir', lab.stateDir);
      assert.equal(broken.code, 1);
      assert.match(broken.out, /the gateway's own configuration is at fault/);
      const stalled = Object.fromEntries(b.state()!.conditions.map((c) => [c.type, `${c.status} ${c.reason}`]));
      assert.equal(stalled['Stalled'], 'True config-error');
      assert.deepEqual(b.state()!.bad, []);
      writeFileSync(vars, 'SITE=berlin\n');
      const fixed = await rollgate('sync', '--state-dir', lab.stateDir);
      assert.equal(fixed.code, 0, fixed.out);
      const conds = Object.fromEntries(b.state()!.conditions.map((c) => [c.type, `${c.status} ${c.reason}`]));
      assert.equal(conds['Stalled'], 'False drift-repaired');
      assert.equal(conds['Ready'], 'True drift-repaired');
      await b.stop();
      lab.write('v3', true);
      const v3 = lab.commit('system v3');
      lab.push();
      const c = new AgentProcess(lab.stateDir, [
        '--repo',
        lab.url,
        '--id',
        'gw-test',
        '--interfaces-dir',
        empty,
        '--jitter',
        '0s',
        '--retry',
        '500ms',
        '--interval',
        '1h',
      ]);
      agents.push(c);
      const t = await c.until('a configuration error', decided(v3));
      assert.match(
        configErrorOf(t, v3)!.detail ?? '',
        /interface "gateway-rootfs" not found in .*fix interfaces\.dirs/,
      );
      assert.deepEqual(t.bad, [], 'the commit is not bad');
      assert.equal(t.applied?.commit, commit, 'the gateway keeps what it runs');
      lab.expectSettled('v2');
    });
  },
);

describe('rollgate forget: an operator clears a bad record on one gateway', { skip: missing ?? false }, () => {
  let lab: FleetLab;
  let agent: AgentProcess | undefined;
  after(async () => {
    await agent?.kill();
    await lab?.server?.close();
    lab?.close();
  });

  test(
    'a commit that failed because of the gateway is cleared through the running agent and applied again; ' +
      'the history says who, when and why',
    async () => {
      lab = new FleetLab();
      lab.seed((t) => `${t}-v1`);
      lab.init();
      await lab.serve();
      lab.write('v2', true);
      const good = lab.commit('system v2');
      lab.push();
      agent = lab.agent({}, ['--interval', '1h']);
      await agent.until('v2 applied', (x) => x.lastGood?.commit === good);
      // Its health check looks for a directory on the gateway that is not there (yet).
      lab.write('v3', false);
      const bad = lab.commit('system v3, needing something on the gateway');
      lab.push();
      await rollgate('sync', '--state-dir', lab.stateDir);
      await agent.until('rolled back', (x) => lastHistory(x, bad)?.event === 'rolled-back');

      const notBad = await rollgate('forget', good.slice(0, 10), '--state-dir', lab.stateDir, '--reason', 'x');
      assert.equal(notBad.code, 1);
      assert.match(
        notBad.err,
        new RegExp(
          `${good.slice(0, 10)} is not recorded as bad on this gateway; the bad ` +
            `commits here are: ${bad.slice(0, 12)} \\(health-failed\\)`,
        ),
      );
      const noReason = await rollgate('forget', bad, '--state-dir', lab.stateDir);
      assert.equal(noReason.code, 1);
      assert.match(noReason.err, /required option '--reason <why>' not specified/);
      const notHex = await rollgate('forget', 'HEAD~1', '--state-dir', lab.stateDir, '--reason', 'x');
      assert.equal(notHex.code, 1);
      assert.match(notHex.err, /"HEAD~1" is not a commit id/);
      await assert.rejects(
        callAgent(lab.stateDir, 'POST', '/forget', 5_000, { commit: 5, reason: 'x', by: 'me' }),
        /not a forget request: commit is a number \(5\), expected a string/,
      );
      assert.equal(agent.state()!.bad.length, 1, 'refused requests change nothing');

      mkdirSync(join(lab.root, 'nothing-here')); // the gateway is fixed
      const r = await rollgate(
        'forget',
        bad.slice(0, 8),
        '--state-dir',
        lab.stateDir,
        '--reason',
        'the probe dir was missing',
      );
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, new RegExp(`cleared the bad record of commit ${bad.slice(0, 12)} through the running agent`));
      const s = agent.state()!;
      assert.deepEqual(s.bad, []);
      const h = lastHistory(s, bad)!;
      assert.equal(h.event, 'forgotten');
      assert.equal(h.by, userInfo().username);
      assert.match(h.detail ?? '', /\w+ cleared its bad record \(health-failed: .*\): the probe dir was missing/);
      const history = await rollgate('history', '--state-dir', lab.stateDir);
      assert.match(history.out, new RegExp(`forgotten  ${bad.slice(0, 12)}`));

      const sync = await rollgate('sync', '--state-dir', lab.stateDir);
      assert.equal(sync.code, 0, sync.out + sync.err);
      await agent.until('applied again', (x) => x.lastGood?.commit === bad);
      lab.expectSettled('v3');
    },
  );

  test('with no agent running, forget edits the state under the lock; the agent then applies the commit', async () => {
    // v1's check needs a directory of its own on the gateway.
    lab.write('v1', true);
    const health = join(lab.repo, 'health.yaml');
    const needed = join(lab.root, 'needed-by-v1');
    writeFileSync(health, readFileSync(health, 'utf8').replace(lab.devices, needed));
    const bad = lab.commit('system v1, with a check that fails');
    lab.push();
    await rollgate('sync', '--state-dir', lab.stateDir);
    await agent!.until('rolled back', (x) => lastHistory(x, bad)?.event === 'rolled-back');
    await agent!.stop();
    mkdirSync(needed); // the gateway is fixed
    const r = await rollgate('forget', bad, '--state-dir', lab.stateDir, '--reason', 'probe fixed by hand');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /through the state file \(no agent is running\)/);
    const s = JSON.parse(readFileSync(join(lab.stateDir, 'agent-state.json'), 'utf8')) as AgentState;
    assert.deepEqual(s.bad, []);
    assert.equal(lastHistory(s, bad)?.event, 'forgotten');
    assert.equal(existsSync(join(lab.stateDir, 'agent.lock')), false, 'the lock is released');
    agent = lab.agent({}, ['--interval', '1h']);
    await agent.until('applied', (x) => x.lastGood?.commit === bad);
    lab.expectSettled('v1');
  });

  test('forget while a reconcile runs waits for it, and neither writes over the other', async () => {
    lab.write('v2', true);
    const health = join(lab.repo, 'health.yaml');
    writeFileSync(health, readFileSync(health, 'utf8').replace(lab.devices, join(lab.root, 'not-yet')));
    const bad = lab.commit('system v2, failing');
    lab.push();
    await rollgate('sync', '--state-dir', lab.stateDir);
    await agent!.until('rolled back', (x) => lastHistory(x, bad)?.event === 'rolled-back');
    // The next commit's health window is long enough to ask for forget in the middle of it.
    lab.write('v3', true);
    writeFileSync(health, readFileSync(health, 'utf8').replace('window: 600ms', 'window: 4s'));
    const next = lab.commit('system v3, a long health window');
    lab.push();
    const sync = rollgate('sync', '--state-dir', lab.stateDir);
    for (;;) {
      const st = await rollgate('status', '--state-dir', lab.stateDir, '--output', 'json');
      if ((JSON.parse(st.out) as { agent: { phase: string } | null }).agent?.phase === 'health') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = await rollgate('forget', bad, '--state-dir', lab.stateDir, '--reason', 'forgotten mid-reconcile');
    assert.equal(r.code, 0, r.err);
    assert.equal((await sync).code, 0);
    const s = agent!.state()!;
    assert.equal(s.lastGood?.commit, next, 'the reconcile recorded its verdict');
    assert.deepEqual(s.bad, [], "and the forget is not lost under the reconcile's write");
    const events = s.history.map((h) => `${h.event} ${h.commit}`);
    assert.ok(
      events.indexOf(`applied ${next}`) < events.indexOf(`forgotten ${bad}`),
      `forget ran after the reconcile: ${events.join(', ')}`,
    );
  });
});
