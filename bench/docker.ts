// rollgate against docker-compose (Debian's docker-compose package) on the same private Engine,
// in the same run: a no-op reconcile of 20 running services, and a release update of all 20.
// Needs root, docker.io, docker-registry, busybox-static and docker-compose. With the bundle built
// (`npm run bundle`: what a gateway installs), `rollgate apply` is timed from it too; with
// ROLLGATE_COMPOSE_V2 (scripts/get-compose-v2.sh), Compose v2's no-op `up -d` is the second peer.
// Prints Markdown;
// BENCHMARKS.md holds the recorded figures and the method.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerApplier, Engine } from '../src/apply/index.js';
import { silentLog } from '../src/base/log.js';
import { reconcileOnce } from '../src/gateway/reconcile.js';
import { AppRepo } from '../test/helpers/app-repo.js';
import { median, run, withComposeBench } from './common.js';
import { CLI } from '../test/helpers/cli.js';
import { projectRoot, tempDir } from '../test/helpers/fixtures.js';

const SERVICES = 20;
const BUNDLE = join(projectRoot, 'dist/bundle/cli/rollgate.mjs');
const COMPOSE_V2 = process.env['ROLLGATE_COMPOSE_V2'];
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);

function compose(image: string): string {
  const lines = ['services:'];
  for (let i = 0; i < SERVICES; i++)
    lines.push(
      `  s${i}:`,
      `    image: ${image}`,
      '    command: ["sleep", "3600"]',
      '    init: true',
      `    environment: { N: "${i}" }`,
    );
  return lines.join('\n') + '\n';
}

function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = process.hrtime.bigint();
  return fn().then((value) => ({ ms: Number(process.hrtime.bigint() - t) / 1e6, value }));
}

async function main() {
  await withComposeBench(async ({ info, env, dockerHost, composeVersion: version }) => {
    const img1 = await env.image('bench/svc', '1', true);
    const img2 = await env.image('bench/svc', '2', true);

    // docker-compose project
    const cdir = tempDir('bench-compose-');
    const cfile = join(cdir, 'docker-compose.yml');
    const composeUp = () =>
      run('docker-compose', ['-p', 'cmp', '-f', cfile, 'up', '-d', '--remove-orphans'], dockerHost, cdir);

    // rollgate app (both images are kept, as the last good commit's would be, so neither tool pulls)
    const repo = new AppRepo();
    const stateDir = tempDir('bench-state-');
    const engine = new Engine({ socketPath: info.socket });
    const applier = new DockerApplier(engine, { keepImages: () => [img1, img2] });
    const rollgateOnce = async () => {
      const d = await repo.load();
      return reconcileOnce(d, {
        docker: applier,
        stateDir,
        log: silentLog,
        ...(process.env['BENCH_CONCURRENCY'] ? { concurrency: Number(process.env['BENCH_CONCURRENCY']) } : {}),
      });
    };
    const rollgateCli = () =>
      run(
        process.execPath,
        [CLI, 'apply', '--repo', repo.dir, '--id', 'gw-bench', '--state-dir', stateDir, '--quiet'],
        dockerHost,
      );

    const applyArgs = ['apply', '--repo', repo.dir, '--id', 'gw-bench', '--state-dir', stateDir, '--quiet'];
    const bundleCli = () => run(process.execPath, [BUNDLE, ...applyArgs], dockerHost);
    // Compose v2 on a project of its own: on v1's project each would recreate what the other made.
    const composeV2Up = () =>
      run(COMPOSE_V2!, ['-p', 'cmp2', '-f', cfile, 'up', '-d', '--remove-orphans'], dockerHost, cdir);

    mkdirSync(cdir, { recursive: true });
    writeFileSync(cfile, compose(img1));
    await repo.set({ rg: compose(img1) });
    await composeUp();
    if (COMPOSE_V2) await composeV2Up();
    const first = await rollgateOnce();
    if (first.outcome?.status !== 'applied') throw new Error(`rollgate install failed: ${first.outcome?.error}`);

    // No-op reconcile of 20 running services
    const noop = {
      compose: [] as number[],
      rollgate: [] as number[],
      rollgateCli: [] as number[],
      bundle: [] as number[],
      composeV2: [] as number[],
    };
    let calls = 0;
    for (let r = 0; r < ROUNDS; r++) {
      noop.compose.push((await timed(composeUp)).ms);
      const before = engine.calls;
      const t = await timed(rollgateOnce);
      calls = engine.calls - before;
      if (t.value.outcome) throw new Error('the no-op reconcile planned changes');
      noop.rollgate.push(t.ms);
      noop.rollgateCli.push((await timed(rollgateCli)).ms);
      if (existsSync(BUNDLE)) noop.bundle.push((await timed(bundleCli)).ms);
      if (COMPOSE_V2) noop.composeV2.push((await timed(composeV2Up)).ms);
    }

    // Compose v2's project is only the no-op's peer: its containers would load the Engine in the updates.
    if (COMPOSE_V2) await run(COMPOSE_V2, ['-p', 'cmp2', '-f', cfile, 'down', '-t', '1'], dockerHost, cdir);

    // Release update of all 20 services, alternating between the two images
    const upd = { compose: [] as number[], rollgate: [] as number[], rollgateCli: [] as number[] };
    let image = img1;
    for (let r = 0; r < ROUNDS; r++) {
      image = image === img1 ? img2 : img1;
      // Alternate which tool goes first, so neither always runs on an Engine still busy with the other's clean-up.
      const composeRound = async () => {
        writeFileSync(cfile, compose(image));
        upd.compose.push((await timed(composeUp)).ms);
      };
      const rollgateRound = async () => {
        await repo.set({ rg: compose(image) });
        const t = await timed(rollgateOnce);
        if (t.value.outcome?.status !== 'applied') throw new Error(`rollgate update failed: ${t.value.outcome?.error}`);
        upd.rollgate.push(t.ms);
      };
      if (r % 2 === 0) await composeRound().then(rollgateRound);
      else await rollgateRound().then(composeRound);
      // The CLI round goes back and forth once more, so it updates too.
      await repo.set({ rg: compose(image === img1 ? img2 : img1) });
      upd.rollgateCli.push((await timed(rollgateCli)).ms);
      await repo.set({ rg: compose(image) });
      await rollgateOnce();
    }

    const row = (what: string, c: number[], g: number[], cli: number[]) =>
      `| ${what} | ${median(c).toFixed(0)} | ${median(g).toFixed(0)} | ${(median(g) / median(c)).toFixed(3)}× ` +
      `| ${median(cli).toFixed(0)} | ${(median(cli) / median(c)).toFixed(2)}× |`;
    console.log(`docker-compose ${version}, ${SERVICES} services, ${ROUNDS} rounds, medians in ms\n`);
    console.log(
      '| operation | docker-compose up -d | rollgate reconcile (in the agent) | ratio | rollgate apply (new ' +
        'process) | ratio |',
    );
    console.log('|---|---|---|---|---|---|');
    console.log(row('no-op reconcile', noop.compose, noop.rollgate, noop.rollgateCli));
    console.log(row('release update of all services', upd.compose, upd.rollgate, upd.rollgateCli));
    console.log(`\nEngine API calls in a no-op reconcile: ${calls}`);
    const c1 = median(noop.compose);
    if (noop.bundle.length)
      console.log(
        `rollgate apply from the bundle (what a gateway installs), no-op: ${median(noop.bundle).toFixed(0)} ms, ` +
          `${(median(noop.bundle) / c1).toFixed(2)}× docker-compose ${version}`,
      );
    if (noop.composeV2.length) {
      const c2 = median(noop.composeV2);
      const cli = noop.bundle.length ? median(noop.bundle) : median(noop.rollgateCli);
      console.log(
        `Compose v2 up -d, no-op: ${c2.toFixed(0)} ms; rollgate apply (${noop.bundle.length ? 'bundle' : 'dist'}) ` +
          `${(cli / c2).toFixed(2)}× of it`,
      );
    }
    await run('docker-compose', ['-p', 'cmp', '-f', cfile, 'down', '-t', '1'], dockerHost, cdir).catch(() => {});
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
