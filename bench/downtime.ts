// Per-service downtime during a release update, measured the way a client sees it: a probe
// container per service, on the app's network, asks the service by name ~20 times a second (the other tools' probes
// paused meanwhile)
// (looking it up each time and trying every address, as curl or Go's net/http do) and logs ok or
// FAIL. rollgate (default new-before-old, and start-first) against `docker-compose up -d`, on the
// same private Engine, in the same run. Needs root, docker.io, docker-registry, busybox-static,
// docker-compose. Prints Markdown; BENCHMARKS.md holds the recorded figures and the method.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import { DockerApplier, Engine, hostPaths } from '../src/apply/index.js';
import { silentLog } from '../src/base/log.js';
import { reconcileOnce } from '../src/gateway/reconcile.js';
import { AppRepo } from '../test/helpers/app-repo.js';
import { median, run, withComposeBench } from './common.js';
import { tempDir } from '../test/helpers/fixtures.js';
import { probeCommand } from '../test/helpers/container-io.js';

const SERVICES = 3;
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);

function app(web: string, probeImage: string, release: number, startFirst: boolean): string {
  const lines = ['services:'];
  for (let i = 0; i < SERVICES; i++) {
    lines.push(
      `  web${i}:`,
      `    image: ${web}`,
      '    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]',
      '    init: true',
      '    stop_grace_period: 2s',
      `    environment: { RELEASE: "${release}" }`,
      '    healthcheck: { test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"], interval: ' +
        '1s, timeout: 1s, retries: 3 }',
      ...(startFirst ? ['    deploy: { update_config: { order: start-first } }'] : []),
      `  probe${i}:`,
      `    image: ${probeImage}`,
      '    init: true',
      probeCommand(`web${i}`).trimEnd(),
    );
  }
  return lines.join('\n') + '\n';
}

async function probeLines(
  docker: Docker,
  project: (l: Record<string, string>) => boolean,
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const c of await docker.listContainers({ all: true })) {
    const name = c.Labels['io.rollgate.service'] ?? c.Labels['com.docker.compose.service'];
    if (!name?.startsWith('probe') || !project(c.Labels)) continue;
    const logs = await docker
      .getContainer(c.Id)
      .logs({ stdout: true, stderr: true })
      .catch(() => undefined);
    if (!logs) continue;
    const text = logs.toString().replace(/[^ -~\n]/g, '');
    out.set(
      name.replace('probe', 'web'),
      text.split('\n').filter((l) => /ok$|FAIL-/.test(l)),
    );
  }
  return out;
}

/** The probes of the other tools' apps: paused while one tool is measured, so they do not load the machine. */
async function otherProbes(docker: Docker, project: (l: Record<string, string>) => boolean): Promise<string[]> {
  return (await docker.listContainers({ all: true }))
    .filter(
      (c) =>
        (c.Labels['io.rollgate.service'] ?? c.Labels['com.docker.compose.service'] ?? '').startsWith('probe') &&
        !project(c.Labels),
    )
    .map((c) => c.Id);
}

interface Measured {
  /**
   * Per service: probes that found the service unreachable (addresses that did not answer, or no container by that
   * name).
   */
  failed: number[];
  /** Of those, the ones whose lookup found no container by that name (NXDOMAIN). */
  nxdomain: number[];
  /** Per service: probes whose lookup got no answer in time (the Engine's DNS under load), counted apart. */
  dnsTimeouts: number[];
  periodMs: number;
}

/** Failed probes of each service during one update, and the probe's period, from the lines it added. */
async function measure(
  docker: Docker,
  project: (l: Record<string, string>) => boolean,
  update: () => Promise<void>,
): Promise<Measured> {
  const others = await otherProbes(docker, project);
  const quiet = (p: Promise<unknown>) => p.catch(() => {}); // a probe that is gone needs no pausing
  for (const id of others) await quiet(docker.getContainer(id).pause());
  try {
    return await measureAlone(docker, project, update);
  } finally {
    for (const id of others) await quiet(docker.getContainer(id).unpause());
  }
}

async function measureAlone(
  docker: Docker,
  project: (l: Record<string, string>) => boolean,
  update: () => Promise<void>,
): Promise<Measured> {
  // Probes that were paused for another tool's round fail for a moment when they resume: the
  // window starts once every probe of this app answers again, three times in a row.
  for (;;) {
    const lines = await probeLines(docker, project);
    if ([...lines.values()].every((l) => l.slice(-3).length === 3 && l.slice(-3).every((x) => x.endsWith('ok')))) break;
    await sleep(200);
  }
  const before = await probeLines(docker, project);
  const t0 = Date.now();
  await update();
  await sleep(1500); // the probes see the end of the change
  const ms = Date.now() - t0;
  const after = await probeLines(docker, project);
  const failed: number[] = [];
  const nxdomain: number[] = [];
  const dnsTimeouts: number[] = [];
  let probes = 0;
  for (const [svc, lines] of after) {
    const added = lines.slice(before.get(svc)?.length ?? 0);
    probes += added.length;
    failed.push(added.filter((l) => /FAIL-(refused|nxdomain)$/.test(l)).length);
    nxdomain.push(added.filter((l) => l.endsWith('FAIL-nxdomain')).length);
    dnsTimeouts.push(added.filter((l) => l.endsWith('FAIL-dns-timeout')).length);
    if (process.env['BENCH_DEBUG'])
      process.stderr.write(
        `${svc}: ${added.map((l) => (l.endsWith('ok') ? '.' : l.replace(/.*FAIL-/, '[') + ']')).join('')}\n`,
      );
  }
  return { failed, nxdomain, dnsTimeouts, periodMs: (ms * after.size) / Math.max(1, probes) };
}

async function main() {
  await withComposeBench(async ({ info, env, dockerHost, composeVersion: version }) => {
    const web = await env.image('bench/web', '1', true);
    const probeImage = await env.image('bench/probe', '1', true);
    const engine = new Engine({ socketPath: info.socket });
    const docker = engine.docker;

    const cdir = tempDir('bench-compose-');
    mkdirSync(cdir, { recursive: true });
    const cfile = join(cdir, 'docker-compose.yml');
    const composeUp = () => run('docker-compose', ['-p', 'cmp', '-f', cfile, 'up', '-d'], dockerHost, cdir);

    const stateDir = tempDir('bench-state-');
    const applier = new DockerApplier(engine, { keepImages: () => [web, probeImage], paths: hostPaths(stateDir) });
    const empty = () => ({ failed: [] as number[], nx: [] as number[], dns: [] as number[], period: [] as number[] });
    const results: Record<string, ReturnType<typeof empty>> = {
      compose: empty(),
      'rollgate default': empty(),
      'rollgate start-first': empty(),
    };

    const ready = async (project: (l: Record<string, string>) => boolean) => {
      // Until every probe has answered once, what it logs is start-up, not the update.
      for (;;) {
        const lines = await probeLines(docker, project);
        if (lines.size === SERVICES && [...lines.values()].every((l) => l.some((x) => x.endsWith('ok')))) return;
        await sleep(200);
      }
    };

    writeFileSync(cfile, app(web, probeImage, 0, false));
    await composeUp();
    const isCompose = (l: Record<string, string>) => l['com.docker.compose.project'] === 'cmp';
    await ready(isCompose);

    const modes: [string, boolean][] = [
      ['rollgate default', false],
      ['rollgate start-first', true],
    ];
    const repos = new Map<string, AppRepo>();
    for (const [name, sf] of modes) {
      const repo = new AppRepo();
      repos.set(name, repo);
      const appName = sf ? 'sf' : 'nbo';
      const r = await reconcileOnce(await repo.set({ [appName]: app(web, probeImage, 0, sf) }), {
        docker: applier,
        stateDir,
        log: silentLog,
      });
      if (r.outcome?.status !== 'applied') throw new Error(`rollgate install failed: ${r.outcome?.error}`);
      await ready((l) => l['io.rollgate.app'] === appName);
    }

    for (let round = 1; round <= ROUNDS; round++) {
      const c = await measure(docker, isCompose, async () => {
        writeFileSync(cfile, app(web, probeImage, round, false));
        await composeUp();
      });
      results['compose']!.failed.push(...c.failed);
      results['compose']!.dns.push(...c.dnsTimeouts);
      results['compose']!.nx.push(...c.nxdomain);
      results['compose']!.period.push(c.periodMs);
      for (const [name, sf] of modes) {
        const appName = sf ? 'sf' : 'nbo';
        const repo = repos.get(name)!;
        const m = await measure(
          docker,
          (l) => l['io.rollgate.app'] === appName,
          async () => {
            const r = await reconcileOnce(await repo.set({ [appName]: app(web, probeImage, round, sf) }), {
              docker: applier,
              stateDir,
              log: silentLog,
            });
            if (r.outcome?.status !== 'applied') throw new Error(`rollgate update failed: ${r.outcome?.error}`);
          },
        );
        results[name]!.failed.push(...m.failed);
        results[name]!.dns.push(...m.dnsTimeouts);
        results[name]!.nx.push(...m.nxdomain);
        results[name]!.period.push(m.periodMs);
      }
    }

    const compose = results['compose']!;
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const composeDown = mean(compose.failed) * median(compose.period);
    console.log(
      `docker-compose ${version}, ${SERVICES} services updated at once, ${ROUNDS} rounds: ${SERVICES * ROUNDS} ` +
        `service updates per tool\n`,
    );
    console.log(
      '| tool | failed probes per service update: mean | max | total | of which NXDOMAIN | lookups timed out | ' +
        'probe period (ms) | downtime per service update (mean failed × period, ms) | ratio to compose |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const [name, r] of Object.entries(results)) {
      const down = mean(r.failed) * median(r.period);
      const ratio = composeDown > 0 ? (down / composeDown).toFixed(2) + '×' : '—';
      console.log(
        `| ${name === 'compose' ? 'docker-compose up -d' : name} | ${mean(r.failed).toFixed(2)} ` +
          `| ${Math.max(...r.failed)} | ${r.failed.reduce((a, b) => a + b, 0)} ` +
          `| ${r.nx.reduce((a, b) => a + b, 0)} | ${r.dns.reduce((a, b) => a + b, 0)} ` +
          `| ${median(r.period).toFixed(0)} | ${down.toFixed(0)} | ${ratio} |`,
      );
    }
    await run('docker-compose', ['-p', 'cmp', '-f', cfile, 'down', '-t', '1'], dockerHost, cdir).catch(() => {});
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
