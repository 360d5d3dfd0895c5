// sd_notify as systemd receives it: the agent as a separate process with NOTIFY_SOCKET set to a
// unix datagram socket the test binds, as systemd binds its own. READY=1, WATCHDOG=1, STOPPING=1,
// and a STATUS= line that says what the agent is doing: the step of an apply, the health window
// and when it ends, and what a stop waits for. The line itself is checked in memory too.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { AgentMetrics } from '../../src/agent/metrics.js';
import { LiveView } from '../../src/agent/live.js';
import { StateStore } from '../../src/agent/state.js';
import { AgentProcess } from '../helpers/agent-process.js';
import { requireMenderTools } from '../helpers/devices.js';
import { tempDir } from '../helpers/fixtures.js';
import { FleetLab } from '../helpers/fleet-lab.js';

interface Receiver {
  on(event: 'message', cb: (buf: Buffer) => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
  bind(path: string): void;
  close(): void;
}

/** The unix-dgram addon (an optional dependency the agent sends with), or why it is missing. */
function dgram(): { createSocket(type: 'unix_dgram'): Receiver } | string {
  try {
    return createRequire(import.meta.url)('unix-dgram') as { createSocket(type: 'unix_dgram'): Receiver };
  } catch (err) {
    const why = `the unix-dgram addon did not build (${(err as Error).message.split('\n')[0]})`;
    if (process.env['CI'] === 'true') throw new Error(`CI=true and ${why}`);
    process.stderr.write(`\n!!! SKIPPING the NOTIFY_SOCKET test: ${why}\n\n`);
    return why;
  }
}

/** A NOTIFY_SOCKET: every datagram the agent sends, in order. */
class NotifySocket {
  readonly path = join(tempDir('rollgate-notify-'), 'notify');
  readonly messages: string[] = [];
  private readonly socket: Receiver;

  constructor(unix: { createSocket(type: 'unix_dgram'): Receiver }) {
    this.socket = unix.createSocket('unix_dgram');
    this.socket.on('message', (buf) => this.messages.push(buf.toString()));
    this.socket.on('error', () => {});
    this.socket.bind(this.path);
  }

  /** The STATUS= lines, in order. */
  get statuses(): string[] {
    return this.messages.flatMap((m) =>
      m
        .split('\n')
        .filter((l) => l.startsWith('STATUS='))
        .map((l) => l.slice(7)),
    );
  }

  async until(what: string, test: (lines: string[]) => boolean, agent: AgentProcess, ms = 60_000): Promise<void> {
    const end = Date.now() + ms;
    for (;;) {
      const lines = this.messages.flatMap((m) => m.split('\n'));
      if (test(lines)) return;
      const said = lines.filter((l) => l !== 'WATCHDOG=1').join(' | ');
      if (!agent.running) throw new Error(`the agent exited before ${what}: ${said}\n${agent.text()}`);
      if (Date.now() > end) throw new Error(`no ${what} on the notify socket: ${said}\n${agent.text()}`);
      await sleep(50);
    }
  }

  close(): void {
    this.socket.close();
  }
}

const missingTools = requireMenderTools();
const unix = missingTools ? missingTools : dgram();

describe('sd_notify through a real NOTIFY_SOCKET', { skip: typeof unix === 'string' ? unix : false }, () => {
  let lab: FleetLab;
  let notify: NotifySocket;
  let agent: AgentProcess | undefined;

  before(async () => {
    lab = new FleetLab();
    lab.seed((t) => `${t}-v1`);
    lab.init();
    await lab.serve();
    notify = new NotifySocket(unix as Exclude<typeof unix, string>);
  });
  after(async () => {
    await agent?.kill();
    notify?.close();
    await lab?.server.close();
    lab?.close();
  });

  test(
    'STATUS= says which step of which commit is applied, until when the health window runs, and that a ' +
      'stop waits for it; READY=1, WATCHDOG=1 and STOPPING=1 arrive',
    async () => {
      lab.write('v2', true);
      // A window long enough to be seen and stopped in; the checks pass, so it ends by itself.
      writeFileSync(
        join(lab.repo, 'health.yaml'),
        'apiVersion: rollgate/v1\nkind: Health\nwindow: 3s\ndeadline: 60s\n' +
          `checks:\n  - name: devices-answer\n    interval: 200ms\n    command: { argv: [test, -d, ${JSON.stringify(
            lab.devices,
          )}] }\n`,
      );
      const commit = lab.commit('system v2');
      const steps = await lab.diffSteps();
      lab.push();
      const c = commit.slice(0, 12);
      agent = lab.agent({ NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '1000000' }, ['--interval', '1h']);

      await notify.until('READY=1', (l) => l.includes('READY=1'), agent);
      await notify.until(
        'the health window',
        (l) => l.some((x) => x.startsWith(`STATUS=health window of commit ${c}`)),
        agent,
      );
      const health = notify.statuses.find((s) => s.startsWith('health window'))!;
      assert.match(
        health,
        new RegExp(
          `^health window of commit ${c}: passes at \\d\\d:\\d\\d:\\d\\d UTC at the earliest, fails at ` +
            `\\d\\d:\\d\\d:\\d\\d UTC$`,
        ),
      );
      const applying = notify.statuses.filter((s) => s.startsWith(`applying commit ${c}: step `));
      const seen = applying.map((s) => {
        const m = /^applying commit \w+: step (\d+)\/(\d+) \((.+)\)$/.exec(s);
        assert.ok(m, s);
        assert.equal(Number(m[2]), steps.length, `of every step of the plan: ${s}`);
        return { n: Number(m[1]), step: m[3]! };
      });
      // Every step up to the health window, each counted once, each one the plan has.
      assert.deepEqual(
        seen.map((x) => x.n),
        seen.map((_, i) => i + 1),
      );
      assert.ok(seen.length > 0 && seen.length < steps.length, `steps before the window: ${applying.join(' | ')}`);
      assert.ok(
        notify.statuses.indexOf(applying.at(-1)!) < notify.statuses.indexOf(health),
        'the steps come before the window',
      );
      for (const x of seen) assert.ok(steps.includes(x.step), `${x.step} is a step of the plan`);

      const exited = agent.stop();
      await notify.until(
        'the waiting stop',
        (l) => l.some((x) => x.startsWith('STATUS=stopping: waiting for the health window of commit ' + c)),
        agent,
      );
      assert.match(
        notify.statuses.find((s) => s.startsWith('stopping: waiting'))!,
        /\(passes at .* UTC\) to end; a second SIGTERM stops at once$/,
      );
      assert.deepEqual(await exited, { code: 0, signal: null });
      // After the window, the components' commits: the stop still waits, and says for what.
      assert.ok(
        notify.statuses.some((s) =>
          new RegExp(`^stopping: waiting for the apply of commit ${c} \\(step \\d+/${steps.length}, commit `).test(s),
        ),
        notify.statuses.join(' | '),
      );
      const lines = notify.messages.flatMap((m) => m.split('\n'));
      assert.ok(lines.includes('STOPPING=1'), 'STOPPING=1');
      assert.ok(lines.includes('WATCHDOG=1'), 'WATCHDOG=1 while the event loop turns');
      // The stop waited: the window passed and the commit is the last good one.
      assert.equal(agent.state()?.lastGood?.commit, commit);
      assert.match(notify.statuses.at(-1)!, new RegExp(`^stopping: applied ${c}, last good ${c}$`));
    },
  );
});

describe('the STATUS= line', () => {
  test('says what the agent does: idle through a poll, the step of an apply or a rollback, a resume', async () => {
    const store = await StateStore.open(tempDir());
    const live = new LiveView(store, new AgentMetrics());
    const sent: string[] = [];
    live.onChange = () => sent.push(live.line());
    const a = 'a'.repeat(40);
    live.set('idle');
    live.set('polling');
    live.set('applying');
    live.set('applying', a);
    live.progress({ kind: 'step', n: 2, of: 5, step: 'install component/G13' });
    live.set('rolling-back', a);
    live.progress({ kind: 'step', n: 1, of: 3, step: 'install component/G13' });
    live.set('health', a, { kind: 'health', passAt: '2026-01-01T12:00:30.000Z', failAt: '2026-01-01T12:03:00.000Z' });
    live.stopRequested();
    assert.deepEqual(sent, [
      'idle: applied none, last good none',
      'idle: applied none, last good none',
      'applying what a crash interrupted',
      'applying commit aaaaaaaaaaaa',
      'applying commit aaaaaaaaaaaa: step 2/5 (install component/G13)',
      'rolling back commit aaaaaaaaaaaa to last good none',
      'rolling back commit aaaaaaaaaaaa to last good none: step 1/3 (install component/G13)',
      'health window of commit aaaaaaaaaaaa: passes at 12:00:30 UTC at the earliest, fails at 12:03:00 UTC',
      'stopping: waiting for the health window of commit aaaaaaaaaaaa (passes at 12:00:30 UTC at the earliest, ' +
        'fails at 12:03:00 UTC) to end; a second SIGTERM stops at once',
    ]);
  });
});
