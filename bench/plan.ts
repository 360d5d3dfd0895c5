// Planning speed: a release update of every service, for growing fleets of apps, plus 100
// components; then the same under constraints, as an upgrade (the declared order passes) and as a
// downgrade (it does not: the planner finds the reverse). Writes a Markdown table to stdout;
// BENCHMARKS.md holds the recorded figures.

import { plan } from '../src/plan/index.js';
import { releaseSystem as system, type Constrained } from '../test/helpers/release-system.js';

function measure(
  apps: number,
  services: number,
  components: number,
  constrained?: Constrained,
): { ms: number; steps: number; order: string } {
  const { d, o } = system(apps, services, components, constrained);
  for (let i = 0; i < 5; i++) plan(d, o); // warm up the JIT
  const runs: number[] = [];
  let steps = 0;
  const deadline = Date.now() + 2000;
  while (runs.length < 30 && (runs.length < 5 || Date.now() < deadline)) {
    const t = process.hrtime.bigint();
    const p = plan(d, o);
    runs.push(Number(process.hrtime.bigint() - t) / 1e6);
    steps = p.prepare.length + p.stages.reduce((n, s) => n + s.steps.length, 0) + p.finalize.length;
  }
  runs.sort((a, b) => a - b);
  return { ms: runs[Math.floor(runs.length / 2)]!, steps, order: plan(d, o).order?.chosen ?? '' };
}

const cases: [number, number, number, Constrained?][] = [
  [10, 10, 0],
  [25, 10, 0],
  [50, 10, 0],
  [100, 10, 0],
  [200, 10, 0],
  [400, 10, 0],
  [800, 10, 0],
  [200, 10, 100],
  [200, 10, 100, 'upgrade'],
  [200, 10, 100, 'downgrade'],
];
const results = cases.map((c) => ({ c, r: measure(...c) }));
const base = results[0]!.r;
console.log(`node ${process.version}, median of up to 30 runs after warm-up\n`);
console.log('| apps × services | components | steps | median plan time (ms) | time per step (µs) | vs 10 × 10 |');
console.log('|---|---|---|---|---|---|');
for (const {
  c: [a, s, c, constrained],
  r,
} of results) {
  const comps = constrained ? `${c}, constrained ${constrained} (order: ${r.order})` : `${c}`;
  console.log(
    `| ${a} × ${s} | ${comps} | ${r.steps} | ${r.ms.toFixed(2)} | ${((r.ms * 1000) / r.steps).toFixed(1)} ` +
      `| ${(r.ms / base.ms).toFixed(1)}× |`,
  );
}
