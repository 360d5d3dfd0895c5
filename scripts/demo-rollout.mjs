// The quick start's second story: a staged rollout over a small fleet, every part real and local.
// Four gateways (`rollgate agent` processes, gw-0001 the canary with ring=canary), each with its own
// simulated devices; a `rollgate hub` (embedded database) they report to; the fleet repo as a bare
// repository they follow; the promoter (`rollgate rollout promote`) run step by step as a timer would:
//
//   1. the fleet runs system v1 (no rollout yet: gateways follow the branch);
//   2. a rollout of v2 with a health check that fails: the canary installs it, fails its health window
//      and rolls back; the promoter aborts, and no other gateway ever installs v2;
//   3. a rollout of v2 fixed: canary → half → everyone, one signed promotion commit per wave.
//
// The promoter's signing key is made here with openpgp.js (no gpg needed); the gateways trust no keys,
// to keep the demo short (README "Securing a fleet" and "The promoter's key" say how a fleet does).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const GATEWAYS = [
  { id: 'gw-0001', labels: { role: 'gateway', ring: 'canary' } },
  { id: 'gw-0002', labels: { role: 'gateway', ring: 'main' } },
  { id: 'gw-0003', labels: { role: 'gateway', ring: 'main' } },
  { id: 'gw-0004', labels: { role: 'gateway', ring: 'main' } },
];
const DEVICES = ['G13', 'R456', 'R998'];

/** The example's rollout policy with the demo's times: seconds, where a fleet would wait minutes. */
const POLICY = `# Staged rollout (README "Staged rollouts"), with the demo's short soak and timeout.
rollout:
  gate: { success_percent: 100, soak: 2s, timeout: 2m, on_timeout: pause, max_failures: 0 }
  waves:
    - name: canary
      match: { labels: { ring: canary } }
    - name: half
      percent: 50
    - name: everyone
      percent: 100
`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs the story under `work`. `d` carries the main demo's pieces: root, cli, bold, gitIn,
 * writeFleet(version, failingCheck, { dir, devs, docker, rollout }) and rollgate(args, { show }).
 */
export async function rolloutDemo(work, d) {
  const { root, cli, bold, gitIn, writeFleet, rollgate } = d;
  const bare = join(work, 'fleet.git');
  const clone = join(work, 'fleet-waves');
  const gwDir = (id) => join(work, 'gateways', id);
  const devs = join(work, 'fleet-devices');
  const children = [];
  const git = (...args) => gitIn(clone, ...args);
  const run = (args, o) => {
    const r = rollgate(args, o);
    if (r.status === 1) throw new Error(`rollgate ${args[0]} ${args[1] ?? ''} failed: ${r.stderr}`);
    return r;
  };

  try {
    // The fleet repo: a bare repository the gateways and the promoter use, and the operator's clone.
    spawnSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
    spawnSync('git', ['init', '-q', '-b', 'main', clone]);
    git('remote', 'add', 'origin', bare);
    const commit = (version, failing, message) => {
      writeFleet(version, failing, {
        dir: clone,
        devs,
        docker: undefined,
        rollout: POLICY,
        // Relative: each agent runs in its gateway's directory, where that gateway's devices are.
        running: 'G13/running',
      });
      git('commit', '-q', '-m', message);
      return git('rev-parse', 'HEAD');
    };

    // The promoter's key, made in process.
    const openpgp = await import('openpgp');
    const { privateKey } = await openpgp.generateKey({
      type: 'ecc',
      curve: 'ed25519Legacy',
      userIDs: [{ name: 'Demo Promoter', email: 'promoter@example.com' }],
      format: 'armored',
    });
    const keyFile = join(work, 'promoter.key');
    writeFileSync(keyFile, privateKey, { mode: 0o600 });

    // The hub, with an admin token, and each gateway added through its API.
    const hubData = join(work, 'hub');
    const token = run(['hub', 'token', 'add', '--role', 'admin', 'demo', '--data-dir', hubData], { show: false });
    const adminToken = token.stdout.trim();
    const tokenFile = join(work, 'hub-admin.token');
    writeFileSync(tokenFile, adminToken + '\n', { mode: 0o600 });
    const hubLog = join(work, 'hub.log');
    const hub = spawn(process.execPath, [cli, 'hub', '--data-dir', hubData, '--listen', '127.0.0.1:0'], {
      stdio: ['ignore', openSync(hubLog, 'w'), openSync(hubLog, 'a')],
    });
    children.push(hub);
    let hubUrl;
    for (let i = 0; i < 300 && !hubUrl; i++) {
      await sleep(100);
      hubUrl = /listening on (http:\/\/[^\s,]+)/.exec(readFileSync(hubLog, 'utf8'))?.[1];
      if (hub.exitCode !== null) break;
    }
    if (!hubUrl) throw new Error(`the hub did not start; its log is ${hubLog}`);

    console.log(bold(`\n== A staged rollout over a small fleet: 4 gateways (gw-0001 the canary), a hub at ${hubUrl}`));
    const c1 = commit('v1', false, 'Roll out system v1');
    git('push', '-q', 'origin', 'main');
    for (const g of GATEWAYS) {
      const res = await fetch(`${hubUrl}/api/v1/gateways`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: g.id, labels: g.labels }),
      });
      if (res.status !== 201) throw new Error(`adding ${g.id} to the hub: ${res.status} ${await res.text()}`);
      mkdirSync(gwDir(g.id), { recursive: true });
      writeFileSync(join(gwDir(g.id), 'token'), (await res.json()).token + '\n', { mode: 0o600 });
      // Each gateway's devices in a directory of its own: its interfaces hand the example's interface
      // that directory in place of the one the manifest names.
      const ifaces = join(gwDir(g.id), 'interfaces');
      mkdirSync(ifaces, { recursive: true });
      for (const name of ['gateway-rootfs', 'rtos']) {
        const wrapper = join(ifaces, name);
        writeFileSync(
          wrapper,
          `#!/bin/sh\n# ${g.id}'s devices live under ${gwDir(g.id)}\nn=$#\ni=0\nfor a; do\n  i=$((i + 1))\n` +
            `  if [ "$i" -eq "$n" ]; then set -- "$@" "${gwDir(g.id)}/$(basename "$a")"; else set -- "$@" "$a"; fi\n` +
            `done\nshift "$n"\nexec "${join(root, 'fleet-repo-example/interfaces', name)}" "$@"\n`,
        );
        chmodSync(wrapper, 0o755);
      }
      const args = ['agent', '--repo', bare, '--ref', 'main', '--id', g.id];
      for (const [k, v] of Object.entries(g.labels)) args.push('--label', `${k}=${v}`);
      args.push('--state-dir', join(gwDir(g.id), 'state'), '--interfaces-dir', ifaces);
      args.push('--interval', '1s', '--jitter', '0s', '--metrics-listen', '127.0.0.1:0');
      args.push('--report-url', hubUrl, '--report-token-file', join(gwDir(g.id), 'token'), '--report-heartbeat', '1s');
      const env = { ...process.env };
      delete env.DOCKER_HOST;
      const log = openSync(join(gwDir(g.id), 'agent.log'), 'w');
      children.push(spawn(process.execPath, [cli, ...args], { stdio: ['ignore', log, log], env, cwd: gwDir(g.id) }));
    }
    console.log(`$ rollgate agent --repo ${bare} --id gw-000N --label ring=… --report-url ${hubUrl} … &   # ×4`);

    const version = (id) =>
      DEVICES.map((dev) => {
        const dir = join(gwDir(id), dev);
        if (!existsSync(join(dir, 'running'))) return `${dev}=none`;
        const slot = readFileSync(join(dir, 'running'), 'utf8').trim();
        return `${dev}=${readFileSync(join(dir, `slot-${slot}`), 'utf8').trim()}`;
      }).join(' ');
    const installs = (id) => {
      const log = join(gwDir(id), 'calls.log');
      return existsSync(log)
        ? readFileSync(log, 'utf8')
            .split('\n')
            .filter((l) => / ArtifactInstall$/.test(l)).length
        : 0;
    };
    const state = (id) => {
      const r = rollgate(['status', '--state-dir', join(gwDir(id), 'state'), '--output', 'json'], { show: false });
      return r.status === 0 ? JSON.parse(r.stdout) : undefined;
    };
    const until = async (what, test, ms = 120_000) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (GATEWAYS.every((g) => test(state(g.id), g.id))) return;
        await sleep(500);
      }
      throw new Error(`timed out waiting for ${what}; the gateways' logs are under ${join(work, 'gateways')}`);
    };
    const fleetRuns = () => {
      for (const g of GATEWAYS) console.log(`  ${g.id} (${g.labels.ring}): ${version(g.id)}`);
    };
    const hubArgs = ['--repo', bare, '--hub', hubUrl, '--hub-token-file', tokenFile];
    const signed = ['--signing-key', keyFile];
    /** Runs the promoter, a step a second, until it writes a step that ends its waiting or the rollout halts. */
    const promoteUntil = async (done) => {
      for (let i = 0; i < 240; i++) {
        const r = run(['rollout', 'promote', ...hubArgs, ...signed, '--by', 'promoter@demo'], { show: false });
        if (r.status !== 2) {
          console.log(`\n$ rollgate rollout promote --repo … --hub … --signing-key …   # exit ${r.status}`);
          process.stdout.write(r.stdout + r.stderr);
          if (done(r)) return r;
        }
        await sleep(1000);
      }
      throw new Error('the promoter never decided');
    };

    await until('every gateway on v1', (s) => s?.lastGood?.commit === c1);
    console.log('Every gateway follows the branch until a rollout starts; they run:');
    fleetRuns();

    console.log(bold('\n== Roll out v2, whose new health check fails: the canary tries it, the promoter aborts'));
    const c2 = commit('v2', true, 'Roll out system v2, with a telemetry API check');
    const before = Object.fromEntries(GATEWAYS.map((g) => [g.id, installs(g.id)]));
    console.log(
      `$ rollgate rollout start --repo . --target ${c2.slice(0, 12)} --base ${c1.slice(0, 12)} --id v2-first-try ` +
        `--signing-key promoter.key --by alice@example.com --why 'release v2'`,
    );
    const started = run(
      ['rollout', 'start', '--repo', clone, '--target', c2, '--base', c1, '--id', 'v2-first-try', ...signed].concat([
        '--by',
        'alice@example.com',
        '--why',
        'release v2',
      ]),
      { show: false },
    );
    process.stdout.write(started.stdout + started.stderr);
    git('push', '-q', 'origin', 'main');
    console.log('$ git push   # the release and its rollout, together');
    await promoteUntil((r) => r.status === 3);
    await until('the canary back on v1', (s, id) => s?.applied?.commit === c1 && !s?.inProgress && id !== undefined);
    fleetRuns();
    const tried = GATEWAYS.filter((g) => installs(g.id) > before[g.id]).map((g) => g.id);
    console.log(`Gateways that installed v2: ${tried.join(', ') || 'none'} — the canary wave alone.`);

    console.log(bold('\n== Fix the check and roll out again: canary → half → everyone, a signed commit per wave'));
    git('pull', '-q', '--ff-only', 'origin', 'main'); // the promoter's abort
    const c3 = commit('v2', false, 'Roll out system v2');
    run(
      [
        'rollout',
        'start',
        '--repo',
        clone,
        '--target',
        c3,
        '--id',
        'v2',
        ...signed,
        '--by',
        'alice@example.com',
        '--why',
        'release v2, with the check fixed',
      ],
      { show: false },
    );
    git('push', '-q', 'origin', 'main');
    console.log(`$ rollgate rollout start --repo . --target ${c3.slice(0, 12)} --id v2 … && git push`);
    console.log('Each gateway works out its wave for itself, from the repo alone (`rollgate rollout explain`):');
    for (const g of GATEWAYS) {
      const labels = Object.entries(g.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
      const r = run(['rollout', 'explain', '--repo', bare, '--id', g.id, ...labels, '--output', 'json'], {
        show: false,
      });
      const e = JSON.parse(r.stdout);
      console.log(`  ${g.id}: wave ${e.wave?.name ?? '-'}, ${e.admitted ? 'admitted: ' : ''}${e.reason.message}`);
    }
    await promoteUntil((r) => r.status === 0 && /complete/i.test(r.stdout + r.stderr));
    await until('every gateway on the fixed v2', (s) => s?.lastGood?.commit === c3 && !s?.inProgress);
    run(['rollout', 'status', ...hubArgs]);
    console.log('\nThe fleet runs:');
    fleetRuns();
    console.log(
      `\nThe hub's page: ${hubUrl}/ (while the demo runs); each gateway's log under ${join(work, 'gateways')}.`,
    );
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
  }
}
