#!/usr/bin/env node
// The quick start's main job: build the example fleet repo's history (v1, then v2) in a
// temporary directory, validate it, and show with `rollgate diff` what each commit does to a
// gateway: v1 on a fresh gateway, then v2 on a gateway that runs v1.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'rollgate-demo-'));
const repo = join(work, 'fleet');
const cli = join(root, 'dist/src/cli/main.js');
let failed = false;
const step = (title, cmd, args, okCodes, shown) => {
  console.log(`\n\x1b[1m== ${title}\x1b[0m\n$ ${['rollgate', ...shown].join(' ')}\n`);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (!okCodes.includes(r.status)) failed = true;
};
try {
  spawnSync(process.execPath, [join(root, 'scripts/make-example-repo.mjs'), repo], { stdio: 'inherit' });
  const rg = (title, args, ok = [0]) => step(title, process.execPath, [cli, ...args], ok, args);
  rg('Validate every target of the fleet repo', ['validate', '--repo', repo, '--ref', 'main']);
  rg('Commit 1 (system v1) on a fresh gateway', ['diff', '--repo', repo, '--ref', 'main~1', '--id', 'gw-0042', '--label', 'role=gateway'], [2]);
  rg('Commit 2 (system v2) on a gateway that runs v1: the gateway first, then the RTOS, then the app', ['diff', '--repo', repo, '--ref', 'main', '--against', 'commit:main~1', '--id', 'gw-0042', '--label', 'role=gateway'], [2]);
  console.log(`\nThe example repo is ${join(root, 'fleet-repo-example')}; its history was built in ${repo} (removed now).`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
