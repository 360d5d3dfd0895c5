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
import { running } from '../helpers/proc.js';

const missing = requireMenderTools();

const alive = running;

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
      // The Download runs in the agent's worker, which keeps the book of what it starts.
      const books = () =>
        existsSync(join(lab.stateDir, 'processes'))
          ? readdirSync(join(lab.stateDir, 'processes')).filter((n) => n.endsWith('.json'))
          : [];
      const recorded = () =>
        books().some((name) => {
          try {
            const book = JSON.parse(readFileSync(join(lab.stateDir, 'processes', name), 'utf8')) as {
              groups: { pgid?: number; what: string }[];
            };
            return book.groups.some((g) => g.pgid === leader && g.what === '"rtos" (R456) Download');
          } catch {
            return false;
          }
        });
      for (let i = 0; i < 100 && !recorded(); i++) await sleep(50);
      assert.ok(recorded(), 'the worker records the group while it runs');
      const workers = agent.workerPids();
      assert.equal(workers.length, 1, 'the Download runs in a worker of the agent');
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
      assert.ok(alive(workers[0]!), "the agent's worker outlives it, until the next start");

      lab.unset('R456', 'misbehave/Download');
      agent = lab.agent({}, args);
      const s = await agent.until('applied after the restart', (x) => x.lastGood?.commit === commit);
      assert.deepEqual(groupMembers(leader), [], `no process of the hung Download group remains:\n${agent.text()}`);
      assert.equal(alive(workers[0]!), false, "the killed agent's worker does not run on beside the new agent");
      assert.ok(
        agent.logs.some((l) => /the agent's worker \(cycle\), started .* which is gone, was still running/.test(l.msg)),
        'the worker was ended at once',
      );
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

  test('its worker killed by an interface (siblings hung on their Download pipes): none of them is left', async () => {
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
    // R456 kills its caller, the agent's worker, as soon as its Download starts; G13 and R998 wait
    // for streams that never come. The agent lives on, and polls again soon (a transient error).
    lab.set('R456', 'misbehave/Download', 'kill-agent');
    const args = ['--interval', '1h', '--interface-kill-grace', '2s', '--retry', '3s'];
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
    agent = lab.agent({}, args);
    // The siblings, seen while they run: the agent ends them as soon as it sees its worker gone.
    const hung = new Set<number>();
    const killed = () => agent!.logs.some((l) => /worker process was killed \(SIGKILL\)/.test(l.msg));
    for (let i = 0; i < 3000 && !killed(); i++) {
      // The agent's own command line names the interfaces' directory too: it is no interface.
      for (const pid of interfaces()) if (pid !== agent.pid) hung.add(pid);
      await sleep(20);
    }
    assert.ok(killed(), `the worker was killed:\n${agent.text()}`);
    assert.ok(agent.running, 'the agent outlives its worker');
    stray.push(...hung);
    assert.ok(hung.size > 0, 'the interfaces ran');
    await agent.until('applied after the restart', (x) => x.lastGood?.commit === commit);
    assert.deepEqual(
      [...hung].filter((pid) => alive(pid)),
      [],
      `none of the interfaces the killed worker started still runs:\n${agent.text()}`,
    );
    lab.expectSettled('v2');
  });
});
