// Time from a health failure to the last good state running again, for an app of 10 services:
// `rollgate agent` (a process, against a real git server, Engine and registry) rolls a release
// back after its health window fails; the peer, in the same run on the same Engine, is what a
// docker-compose user does by hand once they know: `docker-compose up -d` with the old file.
// Also the agent's resident memory at rest, managing those 10 containers.
// Needs root, docker.io, docker-registry, busybox-static and docker-compose. Prints Markdown;
// BENCHMARKS.md holds the recorded figures and the method.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LABEL } from '../src/apply/index.js';
import { AgentProcess, lastHistory, type LogLine } from '../test/helpers/agent-process.js';
import { median, run } from './common.js';
import { DockerEnv, startDockerEnv, stopDockerEnv } from '../test/helpers/docker-env.js';
import { tempDir } from '../test/helpers/fixtures.js';
import { startGitServer } from '../test/helpers/git-server.js';

const SERVICES = 10;
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);

/** The app: s0 serves HTTP on the published port (or, when broken, on another one); the rest sleep. */
function compose(image: string, port: number, broken: boolean, round: number): string {
  const lines = ['services:'];
  for (let i = 0; i < SERVICES; i++) {
    lines.push(
      `  s${i}:`,
      `    image: ${image}`,
      '    init: true',
      '    stop_grace_period: 2s',
      `    environment: { N: "${i}", ROUND: "${round}" }`,
    );
    if (i === 0)
      lines.push(
        `    command: ["httpd", "-f", "-p", "${broken ? 8081 : 8080}", "-h", "/www"]`,
        `    ports: ["127.0.0.1:${port}:8080"]`,
      );
    else lines.push('    command: ["sleep", "3600"]');
  }
  return lines.join('\n') + '\n';
}

const runningChecks = Array.from(
  { length: SERVICES },
  (_, i) => `  - name: s${i}-running\n    container: { app: app, service: s${i} }\n`,
).join('');

const HEALTH = (port: number) => `apiVersion: rollgate/v1
kind: Health
window: 2s
deadline: 60s
defaults: { interval: 250ms, timeout: 1s, failureThreshold: 2 }
checks:
  - name: s0-answers
    http: { url: "http://127.0.0.1:${port}/", expectStatus: 200 }
${runningChecks}`;

const at = (l: LogLine) => Date.parse(String(l['time']));

async function main() {
  if (spawnSync('sh', ['-c', 'command -v docker-compose']).status !== 0)
    throw new Error('docker-compose is missing (Debian package docker-compose)');
  const info = await startDockerEnv();
  const envFile = join(info.root, 'env.json');
  const root = tempDir('bench-rollback-');
  let agent: AgentProcess | undefined;
  const server = await startGitServer(join(root, 'srv'));
  try {
    const env = new DockerEnv(info, envFile);
    const good = await env.image('bench/app', '1');
    const next = await env.image('bench/app', '2');
    const dockerHost = { DOCKER_HOST: `unix://${info.socket}` };
    const version = spawnSync('docker-compose', ['version', '--short']).stdout.toString().trim();

    // The fleet repo, pushed to the git server.
    const work = join(root, 'fleet');
    mkdirSync(join(work, 'apps/app'), { recursive: true });
    mkdirSync(join(root, 'srv'), { recursive: true });
    execFileSync('git', ['init', '-q', '--bare', '-b', 'main', join(root, 'srv/fleet.git')]);
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=Ops', '-c', 'user.email=ops@example.com', ...args], { cwd: work })
        .toString()
        .trim();
    git('init', '-q', '-b', 'main');
    git('remote', 'add', 'origin', join(root, 'srv/fleet.git'));
    writeFileSync(
      join(work, 'rollgate.yaml'),
      'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  sys:\n    apps:\n      app: apps/app/compose.yaml\n    ' +
        'health: health.yaml\ntargets:\n  - name: all\n    match: { any: true }\n    system: sys\n',
    );
    writeFileSync(join(work, 'health.yaml'), HEALTH(18391));
    const commit = (yaml: string, message: string) => {
      writeFileSync(join(work, 'apps/app/compose.yaml'), yaml);
      git('add', '-A');
      git('commit', '-q', '-m', message);
      git('push', '-q', 'origin', 'main');
      return git('rev-parse', 'HEAD');
    };

    // The agent on release 1.
    const c1 = commit(compose(good, 18391, false, 0), 'release 1');
    agent = new AgentProcess(join(root, 'state'), [
      '--repo',
      server.url('fleet.git'),
      '--id',
      'gw-bench',
      '--docker-host',
      `unix://${info.socket}`,
      '--interval',
      '500ms',
      '--jitter',
      '0s',
      '--retry',
      '500ms',
      '--drift-check',
      '1h',
    ]);
    await agent.until('release 1 applied', (s) => s.lastGood?.commit === c1, 120_000);
    const containers = async () =>
      (await env.docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL.app}=app`] }) }))
        .map((c) => `${c.Id}:${c.State}`)
        .sort();
    const before = await containers();

    // The docker-compose project, on release 1.
    const cdir = tempDir('bench-rollback-compose-');
    const cfile = join(cdir, 'docker-compose.yml');
    const up = () =>
      run('docker-compose', ['-p', 'cmp', '-f', cfile, 'up', '-d', '--remove-orphans'], dockerHost, cdir);
    writeFileSync(cfile, compose(good, 18392, false, 0));
    await up();

    const rows: { detect: number; running: number; healthy: number; compose: number }[] = [];
    for (let r = 1; r <= ROUNDS; r++) {
      // rollgate: a broken release of all 10 services; the agent installs it, the window fails, it rolls back.
      const from = agent.logs.length;
      const bad = commit(compose(next, 18391, true, r), `release 2, round ${r}: s0 on the wrong port`);
      await agent.until(`round ${r} rolled back`, (s) => lastHistory(s, bad)?.event === 'rolled-back', 180_000);
      const logs = agent.logs.slice(from);
      const find = (re: RegExp) => {
        const l = logs.find((x) => re.test(x.msg));
        if (!l) throw new Error(`round ${r}: no log line ${re}:\n${agent!.text()}`);
        return l;
      };
      const applied = find(/^applying \d+ change/);
      const failed = find(new RegExp(`^health of ${bad.slice(0, 12)} failed: `));
      const undone = find(/^rolling back to the last good commit /);
      const healthy = find(/^rolled back: the gateway runs the last good commit/);
      if (process.env['BENCH_VERBOSE']) for (const l of logs) console.error(`${at(l) - at(failed)} ${l.msg}`);
      const now = await containers();
      if (now.join() !== before.join())
        throw new Error(
          `round ${r}: the containers after the rollback are not the last good ` +
            `ones:\n${now.join('\n')}\nbefore:\n${before.join('\n')}`,
        );
      // docker-compose: the same release, then back by hand.
      writeFileSync(cfile, compose(next, 18392, true, r));
      await up();
      writeFileSync(cfile, compose(good, 18392, false, 0));
      const t = process.hrtime.bigint();
      await up();
      const composeMs = Number(process.hrtime.bigint() - t) / 1e6;
      rows.push({
        detect: at(failed) - at(applied),
        running: at(undone) - at(failed),
        healthy: at(healthy) - at(failed),
        compose: composeMs,
      });
    }

    // The agent at rest with its 10 containers.
    await sleep(10_000);
    const rss =
      Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${agent.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

    const m = (k: keyof (typeof rows)[number]) => median(rows.map((x) => x[k]));
    console.log(`${SERVICES} services, ${ROUNDS} rounds, medians in ms; docker-compose ${version}\n`);
    console.log(
      '| from the health failure to … | rollgate agent (ms) | docker-compose up -d of the old file (ms) | ratio |',
    );
    console.log('|---|---|---|---|');
    console.log(
      `| the last good containers running again | ${m('running').toFixed(0)} | ${m('compose').toFixed(0)} | ` +
        `**${(m('running') / m('compose')).toFixed(2)}×** |`,
    );
    console.log(`| … and their health window passed (window 2s) | ${m('healthy').toFixed(0)} | — | — |`);
    console.log(
      `\nper round (rollgate running / healthy / compose): ` +
        rows.map((x) => `${x.running.toFixed(0)}/${x.healthy.toFixed(0)}/${x.compose.toFixed(0)}`).join(', '),
    );
    console.log(
      `from the apply's start to the health verdict (not part of the figure): median ${m('detect').toFixed(0)} ms`,
    );
    console.log(`agent resident memory at rest with ${SERVICES} containers: ${rss.toFixed(1)} MB`);
    await run('docker-compose', ['-p', 'cmp', '-f', cfile, 'down', '-t', '1'], dockerHost, cdir).catch(() => {});
  } finally {
    await agent?.kill();
    await server.close();
    await stopDockerEnv(envFile);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
