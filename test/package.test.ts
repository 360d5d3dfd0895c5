// The README's install, its first half: `npm pack` in a clean checkout (no dist/) builds the code
// itself and makes a tarball of what a gateway needs and nothing else, which runs with the
// checkout gone. (scripts/systemd-boot-test.sh installs such a tarball with `npm install -g
// --prefix /opt/rollgate`, as the README says, and takes it on through the systemd units.)

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
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

test('npm pack from a clean checkout builds dist/ and packs the code, schemas, units, README and LICENSE only', () => {
  const checkout = cleanCheckout();
  const out = tempDir('rollgate-pack-');
  try {
    assert.equal(existsSync(join(checkout, 'dist')), false, 'the checkout has no dist/');
    const packed = (JSON.parse(npm(['pack', '--json', '--pack-destination', out], checkout)) as Packed[])[0]!;
    const files = packed.files.map((f) => f.path).sort();

    const sources = readdirSync(join(projectRoot, 'src'), { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.ts'));
    for (const s of sources) assert.ok(files.includes(`dist/src/${s.replace(/\.ts$/, '.js')}`), `packs ${s} built`);
    for (const s of readdirSync(join(projectRoot, 'schemas'))) assert.ok(files.includes(`schemas/${s}`), s);
    for (const f of [
      'systemd/rollgate.service',
      'systemd/rollgate-hub.service',
      'README.md',
      'LICENSE',
      'package.json',
    ])
      assert.ok(files.includes(f), `packs ${f}`);
    const stray = files.filter(
      (f) =>
        !/^dist\/src\/.+\.js$/.test(f) &&
        !/^schemas\/[^/]+\.json$/.test(f) &&
        !/^systemd\/[^/]+\.service$/.test(f) &&
        !['README.md', 'LICENSE', 'package.json'].includes(f),
    );
    assert.deepEqual(stray, [], 'nothing else: no sources, tests, source maps or fixtures');
    process.stdout.write(
      `# ${packed.filename}: ${files.length} files, ${Math.round(packed.size / 1024)} KiB packed, ` +
        `${Math.round(packed.unpackedSize / 1024)} KiB unpacked\n`,
    );

    // The tarball alone, with the dependencies npm would install beside it, runs: nothing it needs is left out.
    const unpacked = tempDir('rollgate-unpacked-');
    execFileSync('tar', ['-xzf', join(out, packed.filename), '-C', unpacked]);
    rmSync(checkout, { recursive: true, force: true });
    const pkg = join(unpacked, 'package');
    symlinkSync(join(projectRoot, 'node_modules'), join(pkg, 'node_modules'));
    const bin = join(pkg, 'dist/src/cli/main.js');
    // npm makes the bin executable when it installs it; here node runs it.
    const version = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
    assert.equal(version.status, 0, version.stderr);
    const validate = spawnSync(process.execPath, [bin, 'validate', '--repo', join(projectRoot, 'fleet-repo-example')], {
      encoding: 'utf8',
    });
    assert.equal(validate.status, 0, validate.stdout + validate.stderr);
    rmSync(unpacked, { recursive: true, force: true });
  } finally {
    for (const d of [checkout, out]) rmSync(d, { recursive: true, force: true });
  }
});
