// The rollout benchmark's comparison in simulated time: the same simulated gateways (./rollout-sim.ts)
// and the same schedule under rollgate's staged rollout (./rollout-model.ts: its own pure code) and
// under nixmade's sliding window (./rollout-peer.ts) at two window sizes. For each, a good commit
// from its start to every gateway healthy on it, then a bad one (its health fails wherever it is
// installed) until every gateway is back on the good one: the times, the gateways that installed
// the bad commit, and the control plane's work (state writes, polls, reports).

import { SlidingWindowPeer } from './rollout-peer.js';
import { fleetYaml, ModelRollgatePlane } from './rollout-model.js';
import { SimGateway, VirtualClock, type ControlPlane, type SimOptions } from './rollout-sim.js';

export interface Schedule {
  gateways: number;
  sim: SimOptions;
  soakS: number;
  silentS: number;
  promoteMs: number;
  canaryEvery: number;
}

export interface ModelRow {
  plane: string;
  goodS: number;
  badS: number;
  installedBad: number;
  writes?: number;
  polls: number;
  reports: number;
}

const LIMIT_MS = 72 * 3600_000;

function fleetOf(s: Schedule, plane: ControlPlane, clock: VirtualClock): SimGateway[] {
  return Array.from({ length: s.gateways }, (_, i) => {
    const labels = { ring: i % s.canaryEvery === 0 ? 'canary' : 'main' };
    return new SimGateway(`gw-${String(i).padStart(5, '0')}`, labels, '', plane, clock, s.sim);
  });
}

/** A good commit and a bad one through one plane; `start(target, healthy)` starts each. */
async function twoRollouts(
  clock: VirtualClock,
  fleet: SimGateway[],
  start: (target: string, base: string, healthy: boolean) => void,
  settled: (target: string) => boolean,
): Promise<{ goodS: number; badS: number; installedBad: number }> {
  let stop = false;
  for (const g of fleet) g.seed('v1');
  start('v2', 'v1', true);
  void Promise.all(fleet.map((g) => g.run(() => stop)));
  await clock.run(() => settled('v2') && fleet.every((g) => g.healthyOn === 'v2'), LIMIT_MS);
  const goodS = clock.now() / 1000;
  const t1 = clock.now();
  start('v3', 'v2', false);
  await clock.run(() => settled('v3') && fleet.every((g) => g.applied === 'v2'), t1 + LIMIT_MS);
  stop = true;
  return {
    goodS,
    badS: (clock.now() - t1) / 1000,
    installedBad: fleet.filter((g) => g.installs.some((x) => x.commit === 'v3')).length,
  };
}

export async function compare(s: Schedule): Promise<ModelRow[]> {
  const rows: ModelRow[] = [];
  {
    const clock = new VirtualClock();
    const plane = new ModelRollgatePlane(clock);
    await plane.load(fleetYaml(s.soakS, s.silentS));
    const fleet = fleetOf(s, plane, clock);
    plane.know(fleet);
    const r = await twoRollouts(
      clock,
      fleet,
      (target, base, healthy) => {
        plane.start(target, base, `edge-${target}`, healthy);
        void plane.run(s.promoteMs);
      },
      (target) => plane.state?.target === target && plane.state.state !== 'rolling',
    );
    rows.push({ plane: 'rollgate waves (modelled)', ...r, writes: plane.writes, ...plane.requests });
  }
  for (const batchPercent of [5, 1]) {
    const clock = new VirtualClock();
    const peer = new SlidingWindowPeer(
      {
        batchPercent,
        successPercent: 100,
        successTimeoutMs: s.soakS * 1000,
        durationTimeoutMs: 2 * 3600_000,
        passMs: s.promoteMs,
      },
      clock,
    );
    const fleet = fleetOf(s, peer, clock);
    peer.seed(
      fleet.map((g) => g.id),
      'v1',
    );
    let passes = false;
    const r = await twoRollouts(
      clock,
      fleet,
      (target, _base, healthy) => {
        peer.setTarget(target, healthy);
        if (!passes) void peer.run(() => false);
        passes = true;
      },
      (target) => (target === 'v2' ? peer.lkg === 'v2' : peer.lkb === 'v3'),
    );
    rows.push({ plane: `nixmade sliding window, BatchPercent ${batchPercent}`, ...r, ...peer.requests });
  }
  return rows;
}
