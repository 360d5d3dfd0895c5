// The agent with containers, end to end: a fleet repo of one Compose app pushed to a real git
// server, `rollgate agent` as a process against the private dockerd and registry. A release whose
// health check fails is rolled back to the last good containers; the registry and the Engine go
// away and come back during the run.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { LABEL } from '../../src/apply/index.js';
import { AgentProcess, lastHistory } from '../helpers/agent-process.js';
import { requireDocker } from '../helpers/docker-tests.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';

const env = requireDocker();

describe(
  'the agent with containers (real git server, Engine and registry)',
  { skip: env ? false : 'no Docker Engine (see the line above)' },
  () => {
    const root = tempDir('rollgate-docker-agent-');
    const work = join(root, 'fleet');
    const srv = join(root, 'srv');
    const stateDir = join(root, 'state');
    let server: GitServer;
    let agent: AgentProcess;
    let docker: Docker;
    const img: Record<string, string> = {};
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=Ops', '-c', 'user.email=ops@example.com', ...args], { cwd: work })
        .toString()
        .trim();

    /** One app, `web`, serving on a host port; `serves: false` starts httpd on a port the check does not ask. */
    function commit(image: string, serves: boolean, message: string): string {
      mkdirSync(join(work, 'apps/web'), { recursive: true });
      writeFileSync(
        join(work, 'rollgate.yaml'),
        'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  sys:\n    apps:\n      web: apps/web/compose.yaml\n  ' +
          '  health: health.yaml\ntargets:\n  - name: all\n    match: { any: true }\n    system: sys\n',
      );
      writeFileSync(
        join(work, 'apps/web/compose.yaml'),
        `services:\n  web:\n    image: ${image}\n    command: ["httpd", "-f", "-p", "${serves ? 8080 : 8081}", ` +
          `"-h", "/"]\n    init: true\n    stop_grace_period: 1s\n    ports: ["127.0.0.1:18191:8080"]\n`,
      );
      writeFileSync(
        join(work, 'health.yaml'),
        'apiVersion: rollgate/v1\nkind: Health\nwindow: 1s\ndeadline: 20s\ndefaults: { interval: 200ms, ' +
          'timeout: 1s, failureThreshold: 3 }\nchecks:\n  - name: web-answers\n    http: { url: ' +
          '"http://127.0.0.1:18191/bin/", expectStatus: [200, 403, 404] }\n  - name: web-running\n    ' +
          'container: { app: web, service: web }\n',
      );
      git('add', '-A');
      git('commit', '-q', '-m', message);
      git('push', '-q', 'origin', 'main');
      return git('rev-parse', 'HEAD');
    }

    const webContainers = async () =>
      docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL.app}=web`] }) });

    before(async () => {
      docker = env!.docker;
      for (const [k, tag] of [
        ['v1', '1'],
        ['v2', '2'],
        ['v3', '3'],
      ] as const)
        img[k] = await env!.image('agent/web', tag);
      mkdirSync(srv, { recursive: true });
      execFileSync('git', ['init', '-q', '--bare', '-b', 'main', join(srv, 'fleet.git')]);
      execFileSync('git', ['init', '-q', '-b', 'main', work]);
      git('remote', 'add', 'origin', join(srv, 'fleet.git'));
      server = await startGitServer(srv);
    });
    after(async () => {
      await agent?.kill();
      for (const c of await webContainers().catch(() => []))
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {});
      await server?.close();
      cleanup(root);
    });

    test(
      'a release that fails its health check is rolled back to the last good containers, and recorded as ' + 'bad',
      async () => {
        const c1 = commit(img['v1']!, true, 'web 1');
        agent = new AgentProcess(stateDir, [
          '--repo',
          server.url('fleet.git'),
          '--id',
          'gw-docker',
          '--docker-host',
          `unix://${env!.socket}`,
          '--interval',
          '1s',
          '--jitter',
          '0s',
          '--retry',
          '500ms',
        ]);
        await agent.until('web 1 applied', (s) => s.lastGood?.commit === c1);
        const [first] = await webContainers();
        assert.equal(first?.State, 'running');

        const bad = commit(img['v2']!, false, 'web 2, serving on the wrong port');
        const s = await agent.until('web 2 rolled back', (x) => lastHistory(x, bad)?.event === 'rolled-back');
        assert.equal(s.applied?.commit, c1);
        const rec = s.bad.find((b) => b.commit === bad)!;
        assert.equal(rec.kind, 'health-failed');
        assert.match(
          rec.reason,
          new RegExp(
            String.raw`web-answers failed 3 time\(s\) in a row: http:\/\/127\.0\.0\.1:18191\/bin\/: (ECON` +
              String.raw`NRESET|ECONNREFUSED|socket hang up)`,
          ),
        );
        const after = await webContainers();
        assert.deepEqual(
          after.map((c) => [c.Id, c.State]),
          [[first!.Id, 'running']],
          'the old container runs again and the new one is gone: no orphan',
        );
        assert.equal((await fetch('http://127.0.0.1:18191/bin/')).status < 500, true);
      },
    );

    test(
      '6. the registry down: the release is not applied and nothing running is touched; back, it is applied; ' +
        'the Engine restarted: the next release is applied',
      async () => {
        const before = (await webContainers())[0]!;
        await env!.stopRegistry();
        const c3 = commit(img['v3']!, true, 'web 3');
        await agent.waitForLog(
          new RegExp(`commit ${c3.slice(0, 12)} could not be prepared, nothing running was touched`),
        );
        assert.deepEqual(
          (await webContainers()).map((c) => c.Id),
          [before.Id],
        );
        assert.ok(agent.state()!.lastError!.message.includes(env!.registry), 'the error names the registry');
        await env!.startRegistry();
        await agent.until('web 3 applied after the registry came back', (s) => s.lastGood?.commit === c3, 60_000);
        const now = await webContainers();
        assert.equal(now.length, 1);
        assert.equal(now[0]!.Image, img['v3']);

        await env!.restartEngine(1_000);
        const c4 = commit(img['v1']!, true, 'web 1 again');
        await agent.until('web 1 applied after the Engine restart', (s) => s.lastGood?.commit === c4, 90_000);
        const last = await webContainers();
        assert.deepEqual(
          last.map((c) => [c.Image, c.State]),
          [[img['v1'], 'running']],
        );
      },
    );
  },
);
