// A staged rollout to simulated gateways (./rollout-sim.ts: the agent's own lifecycle policy and
// rollout code, a simulated applier) against the real git server (git http-backend, in a process of
// its own), the real hub (on PostgreSQL) and the real promoter (`rollgate rollout promote`, run on a
// timer as a systemd timer would): 2,000 gateways by default, as many as this machine's git server
// serves in reasonable time. Two rollouts under a scaled-down gate schedule: a good commit, from the
// promoter's start to every gateway healthy on it, and a bad one (its health fails wherever it is
// installed), until the abort has every gateway back on the base. Measured: the times, the commits
// the rollout writes, the git server's and the hub's requests and CPU, and how many gateways
// installed the bad commit. Then 10,000 of the same gateways under the same schedule in simulated
// time (./rollout-compare.ts): rollgate's waves against the peer, nixmade/orchestrator's sliding
// window. Run with `npm run bench:rollout`.

import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { addToken, openDatabase } from '../src/hub/index.js';
import { migrate } from '../src/hub/migrations.js';
import { hashToken, newToken } from '../src/hub/tokens.js';
import { CLI } from '../test/helpers/cli.js';
import { projectRoot, tempDir } from '../test/helpers/fixtures.js';
import { freePort } from '../test/helpers/hub-lab.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { runPromoter } from '../test/helpers/promoter.js';
import { Keyring } from '../test/helpers/signing.js';
import { compare } from './rollout-compare.js';
import { fleetYaml } from './rollout-model.js';
import { GitPlane, Limiter } from './rollout-plane.js';
import { realClock, SimGateway, type SimOptions } from './rollout-sim.js';

const env = (k: string, d: number) => Number(process.env[`ROLLGATE_BENCH_${k}`] ?? d);
/** The fleet against the real git server, hub and promoter. */
const N = env('GATEWAYS', 2_000);
/** The fleet of the comparison in simulated time. */
const MODEL_N = env('MODEL_GATEWAYS', 10_000);
const SIM: SimOptions = {
  pollMs: env('POLL_S', 120) * 1000,
  heartbeatMs: env('HEARTBEAT_S', 60) * 1000,
  applyMs: env('APPLY_S', 10) * 1000,
};
const SOAK_S = env('SOAK_S', 120);
const PROMOTE_MS = env('PROMOTE_S', 30) * 1000;
/** A gateway quiet for four heartbeats does not report (the gate's silent_after). */
const SILENT_S = Math.ceil((4 * SIM.heartbeatMs) / 1000);
/** One gateway in this many is a canary (ring=canary): 1%. */
const CANARY_EVERY = 100;

const ids = Array.from({ length: N }, (_, i) => `gw-${String(i).padStart(5, '0')}`);
const labelsOf = (i: number) => ({ ring: i % CANARY_EVERY === 0 ? 'canary' : 'main' });
const root = tempDir('rollgate-bench-rollout-');
const work = join(root, 'repo');
const bare = join(root, 'srv', 'fleet.git');
const keyring = new Keyring(join(root, 'keys'));
const git = (...a: string[]) =>
  execFileSync('git', ['-c', 'user.name=Bench', '-c', 'user.email=bench@example.com', ...a], {
    cwd: work,
    env: keyring.env,
  })
    .toString()
    .trim();

/** CPU seconds of a process and its reaped children, from /proc. */
function cpuOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
}
const cpuOfAll = (pids: number[]) =>
  pids.reduce(
    (a, p) =>
      a +
      (() => {
        try {
          return cpuOf(p);
        } catch {
          return 0;
        }
      })(),
    0,
  );
const pgPids = (dataDir: string) =>
  execFileSync('pgrep', ['-f', dataDir]).toString().split('\n').filter(Boolean).map(Number);

function writeFleet(version: string, healthy: boolean): void {
  writeFileSync(join(work, 'rollgate.yaml'), fleetYaml(SOAK_S, SILENT_S));
  writeFileSync(
    join(work, 'manifest.yaml'),
    `api_version: mender/v1\nkind: update_manifest\nversion: ${version}\ncomponent_types:\n  rtos:\n` +
      `    artifact_path: https://artifacts.example.com/rtos-${version}.mender\n    artifact_name: rtos-${version}\n` +
      `    artifact_sha256: ${'0'.repeat(64)}\n    update_interface: rtos\ncomponents:\n` +
      `  - { component_type: rtos, id: R1 }\n`,
  );
  writeFileSync(join(work, 'health.yaml'), 'apiVersion: rollgate/v1\nkind: Health\nwindow: 5m\nchecks: []\n');
  writeFileSync(join(work, 'bench-health'), healthy ? 'ok\n' : 'fail\n');
}
function commit(message: string): string {
  // On top of what the promoter pushed.
  if (git('ls-remote', 'origin', 'main')) {
    git('fetch', '-q', 'origin', 'main');
    git('merge', '-q', '--ff-only', 'FETCH_HEAD');
  }
  git('add', '-A');
  git(...key.gitConfig, 'commit', '-q', '-S', '-m', message);
  git('push', '-q', 'origin', 'HEAD:main');
  return git('rev-parse', 'HEAD');
}
const key = keyring.gpgKey('Release Manager');

/** What main started, stopped whatever happens. */
const cleanups: (() => unknown)[] = [];

async function main(): Promise<void> {
  process.stderr.write(
    `${N} gateways, poll ${SIM.pollMs / 1000} s, heartbeat ${SIM.heartbeatMs / 1000} s, ` +
      `apply ${SIM.applyMs / 1000} s, ` +
      `soak ${SOAK_S} s, promoter every ${PROMOTE_MS / 1000} s; ${cpus().length} cores\n`,
  );
  // ---- the hub on PostgreSQL, every gateway and its token, a reader token for the promoter
  const pg = await startPostgres({ maxConnections: 100 });
  cleanups.push(() => pg.stop());
  const db = await openDatabase({ url: pg.url });
  await migrate(db);
  const tokens = ids.map(() => newToken('gateway'));
  for (let i = 0; i < N; i += 2000)
    await db.query(
      `insert into gateways (id, labels, token_hash)
       select i, jsonb_build_object('ring', r), h from unnest($1::text[], $2::text[], $3::text[]) as x(i, r, h)`,
      [
        ids.slice(i, i + 2000),
        ids.slice(i, i + 2000).map((_, j) => labelsOf(i + j).ring),
        tokens.slice(i, i + 2000).map(hashToken),
      ],
    );
  const readerFile = join(root, 'reader.token');
  writeFileSync(readerFile, (await addToken(db, 'reader', 'bench')) + '\n');
  await db.close();
  const hubPort = await freePort();
  const hub = spawn(
    process.execPath,
    [CLI, 'hub', '--database', pg.url, '--listen', `127.0.0.1:${hubPort}`, '--log-level', 'warn'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  cleanups.push(() => hub.kill('SIGTERM'));
  let hubErr = '';
  hub.stderr!.on('data', (c: Buffer) => (hubErr += c.toString()));
  while (!/listening on/.test(hubErr)) await sleep(50);

  // ---- the git server in its own process, the fleet repo, the signing key
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
  execFileSync('git', ['--git-dir', bare, 'config', 'http.receivepack', 'true']);
  const gitServer: ChildProcess = fork(join(projectRoot, 'dist/bench/git-serve.js'), [join(root, 'srv')]);
  cleanups.push(() => gitServer.connected && gitServer.disconnect());
  const serverUrl = await new Promise<string>((r) => gitServer.once('message', (m) => r((m as { url: string }).url)));
  const url = `${serverUrl}fleet.git`;
  const gitStats = () =>
    new Promise<{ requests: number; bytesOut: number; byKind: Record<string, number> }>((r) => {
      gitServer.once('message', (m) => r(m as never));
      gitServer.send('stats');
    });
  execFileSync('git', ['init', '-q', '-b', 'main', work]);
  git('remote', 'add', 'origin', bare);
  const signingKey = join(root, 'release.secret.asc');
  writeFileSync(
    signingKey,
    execFileSync('gpg', ['--batch', '--armor', '--export-secret-keys', key.fingerprint], { env: keyring.env }),
  );
  const store = join(root, 'store.git');
  execFileSync('git', ['clone', '-q', '--bare', bare, store]);
  const promoterArgs = ['--repo', url, '--signing-key', signingKey, '--by', 'bench@example.com'];
  const hubArgs = ['--hub', `http://127.0.0.1:${hubPort}`, '--hub-token-file', readerFile];

  writeFleet('v1', true);
  const v1 = commit('system v1');
  writeFleet('v2', true);
  const v2 = commit('system v2');

  // ---- the simulated fleet, every gateway on v1
  const plane = new GitPlane(url, store, { host: '127.0.0.1', port: hubPort }, new Limiter(16), new Limiter(32));
  const sims = ids.map((id, i) => new SimGateway(id, labelsOf(i), tokens[i]!, plane, realClock, SIM));
  for (const s of sims) s.seed(v1);
  let stopped = false;
  let running: Promise<void>[] = [];

  /** A rollout from its start to `until()`; `started` runs once the start is pushed. */
  const phase = async (name: string, target: string, base: string, until: () => boolean, started?: () => void) => {
    const cpu0 = { git: cpuOf(gitServer.pid!), hub: cpuOf(hub.pid!), pg: cpuOfAll(pgPids(pg.dataDir)) };
    const git0 = await gitStats();
    const reports0 = plane.counts.reports;
    const t0 = Date.now();
    const start = await runPromoter('start', [
      ...promoterArgs,
      ...['--target', target, '--base', base],
      '--id',
      name,
      '--why',
      name,
    ]);
    if (start.code !== 0) throw new Error(`rollout start: ${start.out}${start.err}`);
    started?.();
    const from = git('ls-remote', 'origin', 'main').split('\t')[0]!;
    let ended: number | undefined;
    let promotes = 0;
    const outcome: Record<string, number> = {};
    while (ended === undefined || !until()) {
      if (ended === undefined) {
        const r = await runPromoter('promote', [...promoterArgs, ...hubArgs]);
        promotes++;
        outcome[String(r.code)] = (outcome[String(r.code)] ?? 0) + 1;
        if (r.code === 1) process.stderr.write(`promote: ${r.err}`);
        const on = sims.filter((x) => x.healthyOn === target).length;
        const tried = sims.filter((x) => x.installs.some((i) => i.commit === target)).length;
        process.stderr.write(
          `${name} +${((Date.now() - t0) / 1000).toFixed(0)} s: promote ${r.code}; ` +
            `${tried} installed, ${on} healthy on it\n`,
        );
        const state = execFileSync('git', ['--git-dir', bare, 'show', 'main:rollgate-rollout.yaml']).toString();
        if (/^state: (complete|aborted)$/m.test(state)) ended = Date.now();
      }
      await sleep(ended === undefined ? PROMOTE_MS : 1000);
    }
    const done = Date.now();
    const git1 = await gitStats();
    const written = execFileSync('git', ['--git-dir', bare, 'rev-list', '--count', `${from}^..main`])
      .toString()
      .trim();
    return {
      name,
      seconds: (done - t0) / 1000,
      decidedSeconds: (ended - t0) / 1000,
      commits: Number(written),
      promotes,
      outcome,
      gitRequests: git1.requests - git0.requests,
      gitMB: (git1.bytesOut - git0.bytesOut) / 1e6,
      gitCpu: cpuOf(gitServer.pid!) - cpu0.git,
      hubReports: plane.counts.reports - reports0,
      hubCpu: cpuOf(hub.pid!) - cpu0.hub,
      pgCpu: cpuOfAll(pgPids(pg.dataDir)) - cpu0.pg,
      installedTarget: sims.filter((s) => s.installs.some((x) => x.commit === target)).length,
    };
  };

  // The first rollout of the branch: its gateways start once it is there, or they would take v2 as the head.
  const good = await phase(
    'edge-v2',
    v2,
    v1,
    () => sims.every((s) => s.healthyOn === v2),
    () => (running = sims.map((s) => s.run(() => stopped))),
  );
  writeFleet('v3', false);
  const v3 = commit('system v3: its health check fails');
  const bad = await phase('edge-v3', v3, v2, () => sims.every((s) => s.applied === v2 && !s.state.rollingBack));
  stopped = true;
  await Promise.race([Promise.all(running), sleep(SIM.pollMs + 5000)]);
  plane.close();
  for (const c of cleanups.splice(0).reverse()) await c();

  // ---- the same gateways and schedule in simulated time: rollgate's waves against nixmade's sliding window
  const schedule = { sim: SIM, soakS: SOAK_S, silentS: SILENT_S, promoteMs: PROMOTE_MS, canaryEvery: CANARY_EVERY };
  const modelled = await compare({ ...schedule, gateways: MODEL_N });
  console.log(
    JSON.stringify({ N, MODEL_N, SIM, SOAK_S, PROMOTE_MS, good, bad, plane: plane.counts, modelled }, null, 2),
  );
}

async function cleanUp(): Promise<never> {
  for (const c of cleanups.splice(0).reverse()) await c();
  execFileSync('gpgconf', ['--kill', 'gpg-agent'], { env: keyring.env });
  rmSync(root, { recursive: true, force: true });
  process.exit();
}
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    process.exitCode = 1;
    void cleanUp();
  });

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(cleanUp);
