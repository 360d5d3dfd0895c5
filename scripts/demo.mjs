#!/usr/bin/env node
// The quick start's main job: the rollgate agent on fleet-repo-example, against a local gateway
// whose devices are the example's simulated A/B devices (directories under a temporary dir) and,
// when a Docker Engine answers (DOCKER_HOST or /var/run/docker.sock), the example's Compose app:
//
//   1. commit system v1 → the agent rolls it out (gateway first, then the RTOS devices, then the
//      edge app), health passes, v1 becomes the last good commit;
//   2. commit system v2 with a health check that fails → the agent installs v2, the health
//      window fails, every device is rolled back through the protocol and every container to v1,
//      and the commit is recorded as bad (and not applied again);
//   3. commit v2 with the check fixed → `rollgate sync` → v2 rolled out and last good.
//
// The app's images are made locally (`docker import` of a busybox-static rootfs) under the names
// the example uses; images already on the gateway are not pulled, so no registry is needed. The
// demo removes its containers, network, volume and the images it made when it ends.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { importBusyboxImage, busyboxImageProblem } from '../dist/test/helpers/docker-env.js';
import { rolloutDemo } from './demo-rollout.mjs';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist/src/cli/main.js');
const work = mkdtempSync(join(tmpdir(), 'rollgate-demo-'));
const repo = join(work, 'fleet');
const devices = join(work, 'devices');
const stateDir = join(work, 'state');
const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const gitIn = (cwd, ...args) =>
  execFileSync('git', args, {
    cwd,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Fleet Operator',
      GIT_AUTHOR_EMAIL: 'ops@example.com',
      GIT_COMMITTER_NAME: 'Fleet Operator',
      GIT_COMMITTER_EMAIL: 'ops@example.com',
    },
  })
    .toString()
    .trim();
const git = (...args) => gitIn(repo, ...args);

const EDGE_LABEL = 'io.rollgate.app=edge';
const IMAGES = ['broker:1.0', 'collector:1.0', 'collector:2.0', 'api:1.0', 'api:2.0'].map(
  (t) => `127.0.0.1:5000/rollgate-example/${t}`,
);

function portFree(port) {
  return new Promise((done) => {
    const c = createConnection({ host: '127.0.0.1', port }, () => (c.destroy(), done(false)));
    c.on('error', () => done(true));
  });
}

/** The Docker Engine to run the edge app on, or why the demo runs the devices only. */
async function findEngine() {
  const host = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  if (!host.startsWith('unix://')) return { why: `DOCKER_HOST=${host} is not a unix socket` };
  const socketPath = host.slice('unix://'.length);
  if (!existsSync(socketPath)) return { why: `no Docker Engine at ${socketPath}` };
  const docker = new Docker({ socketPath });
  try {
    await docker.ping();
  } catch (err) {
    return { why: `the Docker Engine at ${socketPath} does not answer: ${err.message}` };
  }
  const problem = busyboxImageProblem();
  if (problem) return { why: `the demo's images are made from busybox: ${problem}` };
  if ((await docker.listContainers({ all: true, filters: JSON.stringify({ label: [EDGE_LABEL] }) })).length > 0)
    return { why: 'this Engine already runs a rollgate app named edge, which the demo leaves alone' };
  if (!(await portFree(18080))) return { why: 'port 127.0.0.1:18080, where the example publishes its API, is taken' };
  return { docker, host };
}

/** The example's images, made locally; returns the ones made here (the others were already there). */
async function makeImages(docker) {
  const have = new Set((await docker.listImages()).flatMap((i) => i.RepoTags ?? []));
  const made = [];
  for (const ref of IMAGES) {
    if (have.has(ref)) continue;
    const at = ref.lastIndexOf(':');
    await importBusyboxImage(docker, ref.slice(0, at), ref.slice(at + 1));
    made.push(ref);
  }
  return made;
}

async function removeEdge(docker, images) {
  const filters = JSON.stringify({ label: [EDGE_LABEL] });
  for (const c of await docker.listContainers({ all: true, filters }))
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => {});
  for (const n of await docker.listNetworks({ filters }))
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => {});
  for (const v of (await docker.listVolumes({ filters })).Volumes ?? [])
    await docker
      .getVolume(v.Name)
      .remove()
      .catch(() => {});
  for (const ref of images)
    await docker
      .getImage(ref)
      .remove()
      .catch(() => {});
}

/**
 * fleet-repo-example at one step of its story, in `dir` (this demo's repo), its devices under `devs`; the edge
 * app only with an Engine (`docker`); `rollout`: the `rollout:` part of rollgate.yaml instead of the example's;
 * `running`: the file the health check finds the gateway device's running slot in.
 */
function writeFleet(
  version,
  failingCheck,
  { dir = repo, devs = devices, docker = engine.docker, rollout, running = `${devs}/G13/running` } = {},
) {
  const git = (...args) => gitIn(dir, ...args);
  // The rollout's state (rollgate-rollout.yaml, written by `rollgate rollout`) stays as it is.
  for (const entry of readdirSync(dir))
    if (entry !== '.git' && entry !== 'rollgate-rollout.yaml')
      rmSync(join(dir, entry), { recursive: true, force: true });
  cpSync(join(root, 'fleet-repo-example'), dir, { recursive: true });
  if (version === 'v1') cpSync(join(root, 'examples/story/v1'), dir, { recursive: true });
  if (rollout !== undefined) {
    const fleetFile = join(dir, 'rollgate.yaml');
    writeFileSync(fleetFile, readFileSync(fleetFile, 'utf8').replace(/\n# Staged rollout[^]*$/, `\n${rollout}`));
  }
  if (!docker) {
    rmSync(join(dir, 'systems/gateway/apps'), { recursive: true, force: true });
    const fleetFile = join(dir, 'rollgate.yaml');
    writeFileSync(
      fleetFile,
      readFileSync(fleetFile, 'utf8')
        .replace(/\n {4}apps:\n {6}edge: [^\n]*/, '')
        .replace(/\n {4}overrides:(\n {6}.*)+/, ''),
    );
  }
  const manifest = join(dir, 'systems/gateway/manifest.yaml');
  writeFileSync(manifest, readFileSync(manifest, 'utf8').replaceAll('/var/lib/rollgate-example/', `${devs}/`));
  writeFileSync(
    join(dir, 'systems/gateway/health.yaml'),
    `# Checked for a window after every apply; a required check that fails rolls the commit back.
apiVersion: rollgate/v1
kind: Health
window: 3s
deadline: 60s
defaults: { interval: 1s, timeout: 1s, failureThreshold: 2 }
checks:
  - name: gateway-running
    command: { argv: [test, -s, ${running}] }
${
  docker
    ? `  - name: api-http
    http: { url: "http://127.0.0.1:18080/", expectStatus: 200 }
  - name: broker-healthy
    container: { app: edge, service: broker, condition: healthy }
  - name: collector-running
    container: { app: edge, service: collector }
`
    : ''
}${
      failingCheck
        ? `  - name: telemetry-api   # nothing listens there: this commit fails its health check
    http: { url: "http://127.0.0.1:18099/healthz" }
`
        : ''
    }`,
  );
  git('add', '-A');
}

function rollgate(args, { show = true } = {}) {
  if (show) console.log(`\n$ rollgate ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  if (show) process.stdout.write(r.stdout + r.stderr);
  return r;
}

/** The agent's status, once it has made its state directory (until then `rollgate status` says there is none). */
function status() {
  const r = rollgate(['status', '--state-dir', stateDir, '--output', 'json'], { show: false });
  return r.status === 0 ? JSON.parse(r.stdout) : undefined;
}

async function until(what, test, ms = 60_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const s = status();
    if (s && test(s)) return s;
    await sleep(300);
  }
  throw new Error(`timed out waiting for ${what}; the agent's log is ${join(work, 'agent.log')}`);
}

async function versions() {
  const devs = ['G13', 'R456', 'R998']
    .map((d) => {
      const slot = readFileSync(join(devices, d, 'running'), 'utf8').trim();
      return `${d}=${readFileSync(join(devices, d, `slot-${slot}`), 'utf8').trim()}`;
    })
    .join(' ');
  if (!engine.docker) return devs;
  const cs = await engine.docker.listContainers({ all: true, filters: JSON.stringify({ label: [EDGE_LABEL] }) });
  const apps = cs.map((c) => `${c.Labels['io.rollgate.service']}=${c.Image.split(':').pop()} (${c.State})`).sort();
  return `${devs}; edge app: ${apps.join(' ')}`;
}

let agent;
let failed = false;
let engine = {};
let images = [];
try {
  engine = await findEngine();
  if (engine.docker) {
    console.log(bold(`== A Docker Engine answers at ${engine.host}: the demo runs the edge app too`));
    images = await makeImages(engine.docker);
    if (images.length)
      console.log(`made ${images.length} example image(s) locally with docker import: ${images.join(', ')}`);
  } else console.log(bold(`== Devices only, no containers: ${engine.why}`));
  execFileSync('git', ['init', '-q', '-b', 'main', repo]);
  writeFleet('v1', false);
  git('commit', '-q', '-m', 'Roll out system v1');
  const c1 = git('rev-parse', 'HEAD');

  console.log(bold('== Start the agent on the example fleet repo (a local git repository, watched for commits)'));
  const args = [
    'agent',
    '--repo',
    repo,
    '--ref',
    'main',
    '--id',
    'gw-0042',
    '--label',
    'role=gateway',
    '--state-dir',
    stateDir,
    '--interfaces-dir',
    join(root, 'fleet-repo-example/interfaces'),
    '--interval',
    '1h',
    '--jitter',
    '0s',
    '--metrics-listen',
    '127.0.0.1:0',
    ...(engine.docker ? ['--docker-host', engine.host] : []),
  ];
  console.log(`$ rollgate ${args.join(' ')} > agent.log &`);
  const logFd = openSync(join(work, 'agent.log'), 'w');
  // Without an Engine the agent is not told about one: a DOCKER_HOST whose socket refuses is an error.
  const agentEnv = { ...process.env };
  delete agentEnv.DOCKER_HOST;
  agent = spawn(process.execPath, [cli, ...args], {
    stdio: ['ignore', logFd, logFd],
    env: engine.docker ? process.env : agentEnv,
  });

  await until('v1 to be applied', (s) => s.lastGood?.commit === c1);
  console.log(`\nThe gateway runs: ${await versions()}`);
  rollgate(['status', '--state-dir', stateDir]);

  console.log(
    bold(
      `\n== Commit system v2 with a health check that fails: it is installed, fails its health window, and is ` +
        `rolled back`,
    ),
  );
  writeFleet('v2', true);
  git('commit', '-q', '-m', 'Roll out system v2, with a telemetry API check');
  const c2 = git('rev-parse', 'HEAD');
  console.log(
    `$ git commit -m 'Roll out system v2, with a telemetry API check'   # ${c2.slice(0, 12)}; the agent sees ` +
      `the branch move`,
  );
  await until(
    'v2 to be rolled back',
    (s) => s.bad.some((b) => b.commit === c2) && s.applied?.commit === c1 && !s.inProgress && s.agent?.phase === 'idle',
  );
  console.log(`\nThe gateway runs: ${await versions()}`);
  rollgate(['status', '--state-dir', stateDir]);
  rollgate(['sync', '--state-dir', stateDir]);

  console.log(bold('\n== Fix the check and commit again: rolled out'));
  writeFleet('v2', false);
  git('commit', '-q', '-m', 'Roll out system v2');
  const c3 = git('rev-parse', 'HEAD');
  rollgate(['sync', '--state-dir', stateDir]);
  await until('v2 to be applied', (s) => s.lastGood?.commit === c3);
  console.log(`\nThe gateway runs: ${await versions()}`);
  rollgate(['history', '--state-dir', stateDir]);
  console.log(
    `\nThe agent's JSON log is in ${join(work, 'agent.log')}; every device call in ${join(devices, 'calls.log')}.`,
  );
  if (process.env.ROLLGATE_DEMO_ROLLOUT !== 'skip')
    await rolloutDemo(work, { root, cli, bold, gitIn, writeFleet, rollgate });
} catch (err) {
  failed = true;
  console.error(`demo failed: ${err.message}`);
  try {
    console.error(readFileSync(join(work, 'agent.log'), 'utf8').split('\n').slice(-30).join('\n'));
  } catch {
    // no log to show
  }
} finally {
  if (agent && agent.exitCode === null) {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
  }
  if (engine.docker && !process.env.ROLLGATE_DEMO_KEEP) await removeEdge(engine.docker, images);
  if (!process.env.ROLLGATE_DEMO_KEEP) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
}
process.exit(failed ? 1 : 0);
