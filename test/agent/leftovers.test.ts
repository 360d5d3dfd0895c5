// kill -9 of the agent in the middle of a Download whose interface hangs with a child holding its
// output (on a gateway: a hung Download nobody owns). The agent that starts next ends that whole
// process group before it resumes the journal, and the transaction ends as it should. The real
// agent as a process, the example's simulated device as the interface, a real git server.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import type { AgentProcess } from '../helpers/agent-process.js';
import { requireMenderTools } from '../helpers/devices.js';
import { FleetLab } from '../helpers/fleet-lab.js';

const missing = requireMenderTools();

/** Whether a process runs (a zombie has ended). */
function alive(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  return existsSync(stat) && readFileSync(stat, 'utf8').split(') ')[1]?.[0] !== 'Z';
}

/** The running processes of a process group, read from /proc here so the test stands on its own. */
function groupMembers(pgid: number): { pid: number }[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n) && alive(Number(n)))
    .filter((n) => {
      try {
        return Number(readFileSync(`/proc/${n}/stat`, 'utf8').split(') ')[1]?.split(' ')[2]) === pgid;
      } catch {
        return false;
      }
    })
    .map((n) => ({ pid: Number(n) }));
}

describe('what a killed agent started is ended when the agent starts again', { skip: missing ?? false }, () => {
  let lab: FleetLab;
  let agent: AgentProcess | undefined;
  const stray: number[] = [];
  after(async () => {
    await agent?.kill();
    for (const pid of stray)
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // ended, as it should be
      }
    await lab?.server?.close();
    lab?.close();
  });

  test(
    'kill -9 mid-Download, a child holding the output: no process of its group remains, ' + 'the commit is applied',
    async () => {
      lab = new FleetLab();
      lab.seed((t) => `${t}-v1`);
      lab.init();
      await lab.serve();
      lab.write('v2', true);
      const commit = lab.commit('system v2');
      lab.push();
      lab.set('R456', 'misbehave/Download', 'hang-with-child');
      const args = ['--interval', '1h', '--interface-kill-grace', '2s'];
      agent = lab.agent({}, args);
      const children = join(lab.device('R456'), 'children');
      for (let i = 0; i < 600 && !(existsSync(children) && readFileSync(children, 'utf8').trim()); i++) {
        assert.ok(agent.running, `the agent runs:\n${agent.text()}`);
        await sleep(50);
      }
      assert.ok(existsSync(children), `the Download hangs with its child:\n${agent.text()}`);
      const child = Number(readFileSync(children, 'utf8').trim());
      // The Download call's group: the child's, led by the interface itself.
      const leader = Number(readFileSync(`/proc/${child}/stat`, 'utf8').split(') ')[1]?.split(' ')[2]);
      const book = join(lab.stateDir, 'processes', `${agent.pid}.json`);
      const recorded = () =>
        existsSync(book) &&
        (JSON.parse(readFileSync(book, 'utf8')) as { groups: { pgid?: number; what: string }[] }).groups.some(
          (g) => g.pgid === leader && g.what === '"rtos" (R456) Download',
        );
      for (let i = 0; i < 100 && !recorded(); i++) await sleep(50);
      assert.ok(recorded(), 'the agent records the group while it runs');
      stray.push(leader, child);
      assert.deepEqual(
        groupMembers(leader)
          .map((p) => p.pid)
          .sort(),
        [leader, child].sort(),
        'the interface and its child run in a group of their own',
      );

      await agent.kill();
      assert.ok(alive(leader) && alive(child), 'killed with the agent, nothing ends them: the bug');

      lab.unset('R456', 'misbehave/Download');
      agent = lab.agent({}, args);
      const s = await agent.until('applied after the restart', (x) => x.lastGood?.commit === commit);
      assert.deepEqual(groupMembers(leader), [], 'no process of the hung Download group remains');
      assert.equal(alive(child), false);
      assert.ok(
        agent.logs.some((l) => /"rtos" \(R456\) Download, started .* which is gone, was still running/.test(l.msg)),
        'the agent says what it ended',
      );
      // Ended before the journal was resumed.
      const endedAt = agent.logs.findIndex((l) => /which is gone, was still running/.test(l.msg));
      const resumedAt = agent.logs.findIndex((l) => /was interrupted|resum/.test(l.msg));
      assert.ok(resumedAt < 0 || endedAt < resumedAt, 'the leftovers are ended before the journal resumes');
      assert.deepEqual(
        readdirSync(join(lab.stateDir, 'processes')).filter((n) => n !== `${agent!.pid}.json`),
        [],
        "the killed agent's record is gone",
      );
      assert.equal(s.bad.length, 0);
      lab.expectSettled('v2');
    },
  );

  test('killed by an interface at once (its siblings hung on their Download pipes): none of them is left', async () => {
    await agent?.kill();
    await lab.server.close();
    lab.close();
    lab = new FleetLab();
    lab.seed((t) => `${t}-v1`);
    lab.init();
    await lab.serve();
    lab.write('v2', true);
    const commit = lab.commit('system v2');
    lab.push();
    // R456 kills the agent as soon as its Download starts; G13 and R998 wait for streams that never come.
    lab.set('R456', 'misbehave/Download', 'kill-agent');
    const args = ['--interval', '1h', '--interface-kill-grace', '2s'];
    agent = lab.agent({}, args);
    const ended = await agent.exited;
    assert.equal(ended.signal, 'SIGKILL');
    const interfaces = () =>
      readdirSync('/proc')
        .filter((n) => /^\d+$/.test(n) && alive(Number(n)))
        .filter((n) => {
          try {
            return readFileSync(`/proc/${n}/cmdline`, 'utf8').includes(lab.interfaces);
          } catch {
            return false;
          }
        })
        .map(Number);
    for (let i = 0; i < 40 && interfaces().length === 0; i++) await sleep(50);
    const hung = interfaces();
    stray.push(...hung);
    assert.ok(hung.length > 0, 'the siblings hang on their pipes once the agent is gone');
    agent = lab.agent({}, args);
    await agent.until('applied after the restart', (x) => x.lastGood?.commit === commit);
    assert.deepEqual(
      hung.filter((pid) => alive(pid)),
      [],
      'none of the interfaces the killed agent started still runs',
    );
    lab.expectSettled('v2');
  });
});
