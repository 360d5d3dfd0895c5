// The revert users are told to do, on fleet-repo-example itself: its manifest, constraints,
// artifacts and update interfaces, served by a real git http-backend to `rollgate agent` as a
// process, its devices the example's simulated A/B devices. System v1, then v2 (the example as
// shipped), then `git revert` of v2 (back to v1), then `git revert` of the revert (v2 again).
// Without a Docker Engine here, the example's Compose app is left out as `npm run demo` leaves it
// out, and its health checks are replaced by one on the gateway device.

import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AgentProcess, lastHistory } from '../helpers/agent-process.js';
import { DeviceLab, requireMenderTools } from '../helpers/devices.js';
import { projectRoot, run } from '../helpers/fixtures.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';

const missing = requireMenderTools();

describe(
  'git revert on fleet-repo-example, through the agent: back to v1 and forward to v2 again',
  { skip: missing ?? false },
  () => {
    // The lab's devices only: the repo is the example's, the interfaces are the example's.
    const lab = new DeviceLab();
    const work = join(lab.root, 'fleet');
    const srv = join(lab.root, 'srv');
    let server: GitServer;
    let agent: AgentProcess;
    const git = (...args: string[]) => run('git', ['-C', work, ...args]);

    /** The example at one step of its story (examples/story), on this lab's devices, without the app. */
    function writeExample(version: 'v1' | 'v2'): void {
      for (const entry of readdirSync(work))
        if (entry !== '.git') rmSync(join(work, entry), { recursive: true, force: true });
      cpSync(join(projectRoot, 'fleet-repo-example'), work, { recursive: true });
      if (version === 'v1') cpSync(join(projectRoot, 'examples/story/v1'), work, { recursive: true });
      rmSync(join(work, 'systems/gateway/apps'), { recursive: true, force: true });
      const fleet = join(work, 'rollgate.yaml');
      writeFileSync(
        fleet,
        readFileSync(fleet, 'utf8')
          .replace(/\n {4}apps:\n {6}edge: [^\n]*/, '')
          .replace(/\n {4}overrides:(\n {6}.*)+/, ''),
      );
      const manifest = join(work, 'systems/gateway/manifest.yaml');
      writeFileSync(
        manifest,
        readFileSync(manifest, 'utf8').replaceAll('/var/lib/rollgate-example/', `${lab.devices}/`),
      );
      writeFileSync(
        join(work, 'systems/gateway/health.yaml'),
        'apiVersion: rollgate/v1\nkind: Health\nwindow: 600ms\ndeadline: 30s\ndefaults: { interval: 150ms, ' +
          `timeout: 2s, failureThreshold: 2 }\nchecks:\n  - name: gateway-running\n    command: { argv: [test, ` +
          `-s, ${JSON.stringify(join(lab.devices, 'G13/running'))}] }\n`,
      );
    }

    /** Interface calls of the last apply that change a device, as "<id> <State>". */
    const changes = () =>
      lab.calls().filter((c) => / (Download|ArtifactInstall|ArtifactCommit|ArtifactRollback)$/.test(c));
    /** The calls of one state, in order, as ids; devices of one stage run at once, so each stage is sorted. */
    const order = (state: string, stages: string[][]) => {
      const ids = changes()
        .filter((c) => c.endsWith(` ${state}`))
        .map((c) => c.split(' ')[0]!);
      const got: string[][] = [];
      let at = 0;
      for (const s of stages) {
        got.push(ids.slice(at, at + s.length).sort());
        at += s.length;
      }
      assert.equal(ids.length, at, `${state}: ${ids.join(', ')}`);
      assert.deepEqual(got, stages, `${state} in stage order:\n${lab.calls().join('\n')}`);
    };
    const expectRunning = (v: string) =>
      assert.deepEqual(lab.running(), { G13: `gateway-${v}`, R456: `rtos-${v}`, R998: `rtos-${v}` });

    before(async () => {
      lab.seed((t) => `${t}-v1`);
      run('git', ['init', '-q', '--bare', '-b', 'main', join(srv, 'fleet.git')]);
      run('git', ['init', '-q', '-b', 'main', work]);
      git('remote', 'add', 'origin', join(srv, 'fleet.git'));
      server = await startGitServer(srv);
    });
    after(async () => {
      await agent?.kill();
      await server?.close();
      lab.close();
    });

    let v2: string;
    test('system v2, the example as shipped, is rolled out in the declared order: the gateway first', async () => {
      writeExample('v1');
      git('add', '-A');
      git('commit', '-q', '-m', 'Roll out system v1');
      writeExample('v2');
      git('add', '-A');
      git('commit', '-q', '-m', 'Roll out system v2');
      v2 = git('rev-parse', 'HEAD');
      git('push', '-q', 'origin', 'main');
      agent = new AgentProcess(
        lab.stateDir,
        [
          '--repo',
          server.url('fleet.git'),
          '--ref',
          'main',
          '--id',
          'gw-0042',
          '--label',
          'role=gateway',
          '--interfaces-dir',
          join(projectRoot, 'fleet-repo-example/interfaces'),
          '--interval',
          '1s',
          '--jitter',
          '0s',
        ],
        { ROLLGATE_BOOT_ID_FILE: lab.bootIdFile },
      );
      const s = await agent.until('v2 applied', (x) => x.lastGood?.commit === v2, 180_000);
      expectRunning('v2');
      assert.deepEqual(s.bad, []);
      order('ArtifactInstall', [['G13'], ['R456', 'R998']]);
      order('ArtifactCommit', [['G13'], ['R456', 'R998']]);
    });

    let revert: string;
    const title = 'git revert of v2 is applied: the RTOS devices go back first, then the gateway; recorded healthy';
    test(title, async () => {
      lab.clearCalls();
      git('revert', '--no-edit', v2);
      revert = git('rev-parse', 'HEAD');
      git('push', '-q', 'origin', 'main');
      const s = await agent.until(
        'the revert applied or refused',
        (x) => x.lastGood?.commit === revert || x.bad.length > 0,
        180_000,
      );
      assert.deepEqual(s.bad, [], 'the revert is not a bad commit');
      assert.equal(s.lastGood?.commit, revert, 'the revert passed its health window and is the last good commit');
      assert.equal(s.applied?.commit, revert);
      assert.equal(lastHistory(s, revert)?.event, 'applied');
      expectRunning('v1');
      assert.deepEqual(lab.unsettled(), [], 'no device is left mid-update');
      order('ArtifactInstall', [['R456', 'R998'], ['G13']]);
      order('ArtifactCommit', [['R456', 'R998'], ['G13']]);
      assert.ok(!changes().some((c) => c.endsWith('ArtifactRollback')), 'nothing was rolled back');
      // The agent's log says which order it took and why.
      await agent.waitForLog(
        new RegExp(
          'applying 3 change\\(s\\); order: reversed: rtos \\(group 20\\) → gateway \\(group 10\\), the declared ' +
            'order backwards as a downgrade runs, since in the declared order the plan would pass through the ' +
            'forbidden combination "new-rtos-on-old-gateway"',
        ),
      );
    });

    test('git revert of the revert (v2 again) is applied in the declared order', async () => {
      lab.clearCalls();
      git('revert', '--no-edit', revert);
      const again = git('rev-parse', 'HEAD');
      git('push', '-q', 'origin', 'main');
      const s = await agent.until(
        'v2 again applied or refused',
        (x) => x.lastGood?.commit === again || x.bad.length > 0,
        180_000,
      );
      assert.deepEqual(s.bad, []);
      assert.equal(s.lastGood?.commit, again);
      expectRunning('v2');
      assert.deepEqual(lab.unsettled(), []);
      order('ArtifactInstall', [['G13'], ['R456', 'R998']]);
      order('ArtifactCommit', [['G13'], ['R456', 'R998']]);
      await agent.waitForLog(/applying 3 change\(s\); order: as declared: gateway \(group 10\) → rtos \(group 20\)/);
    });
  },
);
