// The README's install: `npm pack` in a clean checkout (no dist/) builds the code and bundles it
// with its dependencies (scripts/bundle.mjs) into a tarball of what a gateway needs and nothing
// else; `npm install -g --prefix` of that tarball, with the checkout and the tarball gone, runs,
// and is at most 25 MB on disk. The hub's database drivers are not in it: `rollgate hub` says
// what to install. (scripts/systemd-boot-test.sh takes such an install on through the systemd units.)

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { DEVICES_FLEET_AGENT_ARGS, pushDevicesFleet } from './helpers/devices-fleet.js';
import { projectRoot, tempDir } from './helpers/fixtures.js';

interface Packed {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

/** The files git has (tracked, and new ones it does not ignore): a clone with this worktree's edits. */
function cleanCheckout(): string {
  const dir = tempDir('rollgate-checkout-');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: projectRoot,
  })
    .toString()
    .split('\0')
    .filter((f) => f && existsSync(join(projectRoot, f)));
  for (const f of files) cpSync(join(projectRoot, f), join(dir, f), { recursive: true });
  // The build's tools, as `npm ci` would install them; never packed.
  symlinkSync(join(projectRoot, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });

/** At most this much on disk beside Node (issue 26). */
const INSTALL_LIMIT_KIB = 25 * 1024;

const TITLE = 'npm pack from a clean checkout bundles the code; the tarball alone installs in at most 25 MB and runs';
test(`${TITLE}, its agent's worker included`, async () => {
  const checkout = cleanCheckout();
  const out = tempDir('rollgate-pack-');
  const prefix = tempDir('rollgate-prefix-');
  try {
    assert.equal(existsSync(join(checkout, 'dist')), false, 'the checkout has no dist/');
    const packed = (JSON.parse(npm(['pack', '--json', '--pack-destination', out], checkout)) as Packed[])[0]!;
    const files = packed.files.map((f) => f.path).sort();

    for (const s of readdirSync(join(projectRoot, 'schemas'))) assert.ok(files.includes(`schemas/${s}`), s);
    for (const f of [
      'dist/bundle/cli/rollgate.mjs',
      'dist/bundle/cli/dockerode.cjs',
      'systemd/rollgate.service',
      'systemd/rollgate-hub.service',
      'README.md',
      'LICENSE',
      'package.json',
    ])
      assert.ok(files.includes(f), `packs ${f}`);
    const stray = files.filter(
      (f) =>
        !/^dist\/bundle\/cli\/[^/]+\.mjs(\.LEGAL\.txt)?$/.test(f) &&
        !/^dist\/bundle\/cli\/dockerode\.cjs(\.LEGAL\.txt)?$/.test(f) &&
        !/^schemas\/[^/]+\.json$/.test(f) &&
        !/^systemd\/[^/]+\.service$/.test(f) &&
        !['README.md', 'LICENSE', 'package.json'].includes(f),
    );
    assert.deepEqual(stray, [], 'nothing else: no sources, tests, source maps or fixtures');
    process.stdout.write(
      `# ${packed.filename}: ${files.length} files, ${Math.round(packed.size / 1024)} KiB packed, ` +
        `${Math.round(packed.unpackedSize / 1024)} KiB unpacked\n`,
    );

    // The README's install, from the tarball alone: the checkout is gone, and so is the tarball after.
    rmSync(checkout, { recursive: true, force: true });
    const tarball = join(out, packed.filename);
    npm(['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], out);
    rmSync(out, { recursive: true, force: true });
    const kib = Number(execFileSync('du', ['-sk', prefix], { encoding: 'utf8' }).split('\t')[0]);
    process.stdout.write(`# installed: ${kib} KiB on disk under the prefix\n`);
    assert.ok(kib <= INSTALL_LIMIT_KIB, `the install takes ${kib} KiB, more than ${INSTALL_LIMIT_KIB} KiB`);
    // Bundled, or the hub's: none of them is installed (only the optional systemd addon and what it needs).
    const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as Record<string, object>;
    const modules = join(prefix, 'lib/node_modules/rollgate/node_modules');
    const present = (name: string) =>
      existsSync(join(modules, name)) || existsSync(join(prefix, 'lib/node_modules', name));
    const leftIn = [pkg.dependencies, pkg.devDependencies, pkg.peerDependencies].flatMap((d) => Object.keys(d ?? {}));
    assert.deepEqual(leftIn.filter(present), [], 'no bundled dependency and no database driver is installed');

    const bin = join(prefix, 'bin/rollgate');
    const version = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    assert.equal(version.status, 0, version.stderr);
    // The Engine client, a file of its own that only a change on the Engine loads: it loads from the install.
    const client = spawnSync(
      process.execPath,
      [
        '-e',
        "const D = require(process.argv[1]); const d = new D({ socketPath: '/nonexistent.sock' }); " +
          "process.stdout.write(typeof d.createContainer + ' ' + typeof d.modem.followProgress)",
        join(prefix, 'lib/node_modules/rollgate/dist/bundle/cli/dockerode.cjs'),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(client.status, 0, client.stderr);
    assert.equal(client.stdout, 'function function');
    const validate = spawnSync(bin, ['validate', '--repo', join(projectRoot, 'fleet-repo-example')], {
      encoding: 'utf8',
    });
    assert.equal(validate.status, 0, validate.stdout + validate.stderr);
    // The agent from the install: its worker (an entry of the bundle's own) applies the demo's devices.
    const fleet = tempDir('rollgate-pack-fleet-');
    const made = pushDevicesFleet(fleet);
    const stateDir = join(prefix, 'state');
    const agent = spawn(
      bin,
      [
        'agent',
        '--config',
        '/dev/null',
        '--state-dir',
        stateDir,
        '--metrics-listen',
        'off',
        '--repo',
        join(fleet, 'fleet.git'),
        ...DEVICES_FLEET_AGENT_ARGS,
        '--interval',
        '1h',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    agent.stdout.on('data', (c: Buffer) => (log += c.toString()));
    agent.stderr.on('data', (c: Buffer) => (log += c.toString()));
    try {
      const stateFile = join(stateDir, 'agent-state.json');
      const good = () =>
        existsSync(stateFile) && (JSON.parse(readFileSync(stateFile, 'utf8')) as { lastGood?: unknown }).lastGood;
      for (let i = 0; i < 600 && !good() && agent.exitCode === null; i++) await sleep(200);
      assert.ok(good(), `the installed agent applied the fleet and kept it as its last good commit:\n${log}`);
    } finally {
      if (agent.exitCode === null && agent.signalCode === null) {
        const exited = new Promise((r) => agent.once('close', r));
        agent.kill('SIGTERM');
        await exited;
      }
      for (const d of [fleet, ...made]) rmSync(d, { recursive: true, force: true });
    }
    const hub = spawnSync(bin, ['hub', 'serve', '--data-dir', join(prefix, 'hub')], { encoding: 'utf8' });
    assert.equal(hub.status, 1, hub.stdout + hub.stderr);
    assert.match(hub.stderr, /the hub's database drivers are not installed \(pg is missing\)/);
    // What it says to install is the README's command for the hub's machine.
    const readmeCommand = /^npm install -g --prefix \/opt\/rollgate .*pglite.*$/m.exec(
      readFileSync(join(projectRoot, 'README.md'), 'utf8'),
    )?.[0];
    assert.ok(readmeCommand, "the README's install of the hub's drivers");
    assert.ok(hub.stderr.includes(readmeCommand), `${hub.stderr} says: ${readmeCommand}`);
  } finally {
    for (const d of [checkout, out, prefix]) rmSync(d, { recursive: true, force: true });
  }
});
