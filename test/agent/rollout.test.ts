// A staged rollout as one gateway's agent meets it: the agent as a process, a fleet repo with a
// rollout policy on a real Git smart-HTTP server, rollgate-rollout.yaml written (and signed, trust
// on) by the test as a promoter would, the example's simulated devices behind real artifacts. A
// gateway whose wave is not open stays on the base with nothing recorded against the target, and
// says why; the wave opening takes it to the target (not to the branch's head); an abort takes it
// back to the base; a commit pushed mid-rollout moves nothing; a gateway offline through several
// steps goes straight to what it should run now; an unsigned rollout file moves nothing.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ReportEvent } from '../../src/model/index.js';
import { lastHistory, type AgentProcess } from '../helpers/agent-process.js';
import { rollgate } from '../helpers/cli.js';
import { requireMenderTools } from '../helpers/devices.js';
import { FleetLab } from '../helpers/fleet-lab.js';
import { freePort } from '../helpers/hub-lab.js';
import { Keyring, type GpgKey } from '../helpers/signing.js';

const missing = requireMenderTools();

const POLICY =
  'rollout:\n' +
  '  gate: { success_percent: 100, soak: 1m, timeout: 1h }\n' +
  '  waves:\n' +
  '    - { name: canary, match: { labels: { ring: canary } } }\n' +
  '    - { name: everyone, percent: 100 }\n';

describe(
  'a staged rollout in the agent (real git server, signed rollout state, the agent as a process)',
  { skip: missing ?? false },
  () => {
    const lab = new FleetLab();
    let key: GpgKey;
    let agent: AgentProcess | undefined;
    let agentArgs: string[] = [];
    let base = '';
    let target = '';
    let duringRollout = '';
    const installs = () => lab.calls().filter((c) => / ArtifactInstall$/.test(c));
    const deferrals = (commit: string) =>
      agent!.state()!.history.filter((h) => h.event === 'deferred' && h.commit === commit).length;

    /** The fleet repo on `version`, with the rollout policy. */
    const writeFleet = (version: string) => {
      lab.write(version, true);
      writeFileSync(join(lab.repo, 'rollgate.yaml'), readFileSync(join(lab.repo, 'rollgate.yaml'), 'utf8') + POLICY);
    };
    /** rollgate-rollout.yaml as a promoter writes it. */
    const writeState = (o: { id?: string; target: string; state?: string; waves: number; bad?: string[] }) => {
      const waves = Array.from({ length: o.waves }, (_, i) => `    - { opened: 2026-11-03T1${i}:00:00Z }`);
      writeFileSync(
        join(lab.repo, 'rollgate-rollout.yaml'),
        `apiVersion: rollgate/v1\nkind: Rollout\nid: ${o.id ?? 'edge-v2'}\nsalt: 5b0f3c9a\nbase: ${base}\n` +
          `target: ${o.target}\nstate: ${o.state ?? 'rolling'}\nwaves:\n  fleet:\n${waves.join('\n')}\n` +
          (o.bad?.length
            ? `bad:\n${o.bad.map((c) => `  - { commit: ${c}, reason: canaries failed }`).join('\n')}\n`
            : ''),
      );
    };
    /** Waits until the agent has polled the branch at `head` and then two polls more. */
    const pollsPast = async (head: string) => {
      const end = Date.now() + 30_000;
      for (;;) {
        const st = await rollgate('status', '--state-dir', lab.stateDir, '--output', 'json');
        const s = JSON.parse(st.out) as { agent: { lastPoll?: { commit?: string } } | null };
        if (s.agent?.lastPoll?.commit === head) break;
        if (Date.now() > end) throw new Error(`the agent never polled ${head}:\n${agent!.text()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      await agent!.waitForLog(/^$/, 2_500).catch(() => {});
    };
    const outbox = (): ReportEvent[] => {
      const dir = join(lab.stateDir, 'outbox');
      return readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .sort()
        .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ReportEvent);
    };
    /** The worker writes the state first and its verdicts to the outbox right after: wait for the verdict. */
    const reported = async (what: string, match: (e: ReportEvent) => boolean): Promise<ReportEvent> => {
      const end = Date.now() + 30_000;
      for (;;) {
        const event = outbox().find(match);
        if (event) return event;
        if (Date.now() > end) throw new Error(`no ${what} in the outbox:\n${agent!.text()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    before(async () => {
      lab.seed((t) => `${t}-v1`);
      lab.init();
      const ring = new Keyring(join(lab.root, 'keys'));
      lab.keyring = ring;
      key = ring.gpgKey('Release Manager');
      await lab.serve();
      // A hub that is not there: the reports wait in the outbox, where they are read.
      const token = join(lab.root, 'hub.token');
      writeFileSync(token, 'rgw_test-token\n', { mode: 0o600 });
      agentArgs = [
        '--interval',
        '1s',
        '--trusted-keys',
        key.publicFile,
        '--report-url',
        `http://127.0.0.1:${await freePort()}`,
        '--report-token-file',
        token,
      ];
    });
    after(async () => {
      await agent?.kill();
      await lab.server.close();
      lab.close();
    });

    test('a gateway whose wave is not open stays on the base: nothing recorded bad, status says why', async () => {
      writeFleet('v1');
      base = lab.commit('system v1', key);
      lab.push();
      agent = lab.agent({}, agentArgs);
      await agent.until('the base applied', (s) => s.lastGood?.commit === base);
      lab.expectSettled('v1');

      writeFleet('v2');
      target = lab.commit('system v2', key);
      writeState({ target, waves: 1 });
      const head = lab.commit('rollout edge-v2: the canary wave opens', key);
      lab.clearCalls();
      lab.push();
      const s = await agent.until('the target deferred', (x) => x.deferred?.commit === target);
      await pollsPast(head);
      assert.deepEqual(installs(), [], 'nothing was installed');
      lab.expectSettled('v1');
      const now = agent.state()!;
      assert.equal(now.applied?.commit, base);
      assert.deepEqual(now.bad, [], 'not yet is never a verdict on the target');
      assert.equal(deferrals(target), 1, 'recorded once, however many polls found it');
      assert.equal(s.deferred?.gate, 'rollout');
      assert.equal(s.deferred?.instead, base);
      assert.deepEqual(s.rollout?.wave, { number: 2, of: 2, name: 'everyone', open: false });
      assert.equal(s.rollout?.code, 'not-yet');

      const status = await rollgate('status', '--state-dir', lab.stateDir);
      assert.match(status.out, /Ready +False +deferred/);
      assert.match(status.out, /Stalled +False +deferred/);
      assert.match(
        status.out,
        new RegExp(
          `rollout +edge-v2 \\(rolling\\), target ${target.slice(0, 12)}, base ${base.slice(0, 12)}: wave 2 of 2`,
        ),
      );
      assert.match(status.out, new RegExp(`deferred +${target.slice(0, 12)} at the rollout gate`));
      assert.match(status.out, /not yet: wave 2 of 2 "everyone" opens once the waves before it pass their gates/);
      assert.match(status.out, /bad commits +none/);
      const sync = await rollgate('sync', '--state-dir', lab.stateDir);
      assert.equal(sync.code, 0, sync.err);
      assert.match(sync.out, new RegExp(`^not yet: .*: commit ${target.slice(0, 12)}\\n  not yet: wave 2 of 2`));
      const event = await reported('deferral', (e) => e.verdict === 'deferred');
      assert.deepEqual(event.rollout, { id: 'edge-v2', target }, 'the report names the rollout and its target');
    });

    test('idle under a rollout: the gateway waits on the base, a poll is one request to the git server', async () => {
      const url = await agent!.metricsUrl();
      const polls = async () =>
        Number(/rollgate_polls_total\{result="unchanged"\} (\d+)/.exec(await (await fetch(url)).text())?.[1] ?? 0);
      // Counted just after a poll ended (its counter moved), as in the agent's own idle test.
      const justPolled = async (): Promise<[number, number]> => {
        const start = await polls();
        for (;;) {
          const p = await polls();
          if (p !== start) return [p, lab.server.requests.length];
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      const [p0, r0] = await justPolled();
      const from = lab.server.requests.length;
      await agent!.waitForLog(/^$/, 2_500).catch(() => {});
      const [p1, r1] = await justPolled();
      assert.ok(p1 - p0 >= 2, `polled on the interval (${p1 - p0} polls)`);
      assert.equal(r1 - r0, p1 - p0, 'one request per poll');
      assert.ok(
        lab.server.requests.slice(from).every((r) => r.method === 'POST' && r.path.endsWith('/git-upload-pack')),
        'ls-refs only: the rollout file and the target are read from objects already fetched',
      );
      assert.equal(agent!.state()!.applied?.commit, base);
      assert.equal(deferrals(target), 1);
    });

    test('a commit pushed during the rollout, not its target, moves no gateway that is not admitted', async () => {
      writeFleet('v3');
      duringRollout = lab.commit('system v3, pushed while edge-v2 rolls', key);
      lab.clearCalls();
      lab.push();
      await pollsPast(duringRollout);
      assert.deepEqual(installs(), []);
      lab.expectSettled('v1');
      assert.equal(agent!.state()!.applied?.commit, base);
      assert.equal(deferrals(target), 1, 'the same cause: not recorded again');
    });

    test("the state opens the gateway's wave: it moves to the target, not to the branch's head", async () => {
      writeState({ target, waves: 2 });
      const head = lab.commit('rollout edge-v2: everyone', key);
      lab.push();
      const s = await agent!.until('the target applied', (x) => x.lastGood?.commit === target);
      lab.expectSettled('v2');
      assert.notEqual(head, target);
      assert.equal(s.applied?.commit, target);
      assert.equal(s.deferred, undefined, 'the deferral is done with');
      assert.equal(s.rollout?.code, 'admitted');
      assert.deepEqual(lastHistory(s, target)?.rollout, { id: 'edge-v2', target });
      assert.equal(lastHistory(s, target)?.event, 'applied');
      const applied = await reported('apply', (e) => e.verdict === 'applied' && e.commit === target);
      assert.deepEqual(applied.rollout, { id: 'edge-v2', target }, 'the report of the apply names the rollout');
    });

    test('an abort takes it back to the base, and the target is never tried again', async () => {
      writeState({ target, state: 'aborted', waves: 2, bad: [target] });
      const head = lab.commit('rollout edge-v2: aborted', key);
      lab.clearCalls();
      lab.push();
      const s = await agent!.until(
        'back on the base',
        (x) => x.applied?.commit === base && lastHistory(x, base)?.rollout !== undefined,
      );
      lab.expectSettled('v1');
      assert.ok(installs().length > 0, 'the base was installed again: a downgrade, planned as any change');
      assert.equal(s.rollout?.code, 'aborted');
      assert.equal(s.rollout?.runs, 'base');
      assert.deepEqual(
        s.bad.map((b) => b.commit),
        [],
        "the fleet's bad list holds the target; this gateway ran it well, so it records nothing against it",
      );
      lab.clearCalls();
      await pollsPast(head);
      assert.deepEqual(installs(), [], 'not tried again');
      assert.equal(agent!.state()!.applied?.commit, base);
    });

    test('offline through several steps of a new rollout: straight to what it should run now', async () => {
      await agent!.stop();
      const seen = agent!.state()!.history.length;
      // A new rollout of the commit pushed mid-rollout: started, paused, resumed with the gateway's wave open.
      writeState({ id: 'edge-v3', target: duringRollout, waves: 1, bad: [target] });
      lab.commit('rollout edge-v3: canaries', key);
      writeState({ id: 'edge-v3', target: duringRollout, state: 'paused', waves: 1, bad: [target] });
      lab.commit('rollout edge-v3: paused', key);
      writeState({ id: 'edge-v3', target: duringRollout, waves: 2, bad: [target] });
      const head = lab.commit('rollout edge-v3: everyone', key);
      lab.clearCalls();
      lab.push();
      agent = lab.agent({}, agentArgs);
      const s = await agent.until('the new target applied', (x) => x.lastGood?.commit === duringRollout);
      lab.expectSettled('v3');
      assert.notEqual(s.applied?.commit, head, 'the target, not the head');
      assert.deepEqual(
        s.history.slice(seen).map((h) => `${h.event} ${h.commit?.slice(0, 12)}`),
        [`applied ${duringRollout.slice(0, 12)}`],
        'one step, straight to the target: no deferral, no stop at the base on the way',
      );
      assert.deepEqual(lastHistory(s, duringRollout)?.rollout, { id: 'edge-v3', target: duringRollout });
    });

    test('an unsigned rollout state is refused like any unsigned commit, and moves nothing', async () => {
      rmSync(join(lab.repo, 'rollgate-rollout.yaml'));
      writeState({ id: 'edge-v4', target: duringRollout, state: 'aborted', waves: 2, bad: [duringRollout] });
      const forged = lab.commit('an abort nobody signed');
      lab.clearCalls();
      lab.push();
      const s = await agent!.until('the forged head refused', (x) => x.bad.some((b) => b.commit === forged));
      assert.equal(s.bad.find((b) => b.commit === forged)?.kind, 'untrusted');
      assert.equal(s.applied?.commit, duringRollout);
      assert.equal(s.rollout?.id, 'edge-v3', 'the standing is the last trusted one');
      await pollsPast(forged);
      assert.deepEqual(installs(), []);
      lab.expectSettled('v3');
    });
  },
);
