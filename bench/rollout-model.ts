// rollgate's staged rollout as a control plane of the benchmark's simulated gateways in simulated
// time, beside the peer's (./rollout-peer.ts), so both run the same gateways under the same schedule:
// the rollout's own pure code (src/rollout: startRollout, decidePromotion with its gates, admission;
// the standing of src/lifecycle/gates/rollout.ts) over a rollout state kept in memory instead of in
// git, a promoter step on every timer tick, and the evidence a hub keeps from the gateways' reports
// (src/hub/ingest.ts, rollout-evidence.ts): the last report's time, since when the gateway has run
// its commit healthy without a break, and a failure reported on the target — all on this clock.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DirectorySource, findTarget, readFleet, type FleetDoc } from '../src/manifest/index.js';
import type { ReportEvent, ReportStatus } from '../src/model/index.js';
import type { EvidenceGateway, FleetRollout, RolloutState } from '../src/model/rollout.js';
import { admit, decidePromotion, startRollout, trackOf } from '../src/rollout/index.js';
import { standingOf } from '../src/lifecycle/gates/rollout.js';
import { tempDir } from '../test/helpers/fixtures.js';
import type { Clock, ControlPlane, PlaneAnswer, SimGateway } from './rollout-sim.js';

/** rollgate.yaml of the benchmark's fleet: one system, the canaries by label, then 10%, 50% and 100%. */
export function fleetYaml(soakS: number, silentS: number): string {
  return (
    `apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  gw:\n    manifest: manifest.yaml\n    health: health.yaml\n` +
    `targets:\n  - { name: all, match: { any: true }, system: gw }\nrollout:\n` +
    `  gate: { success_percent: 95, soak: ${soakS}s, timeout: 2h, silent_after: ${silentS}s }\n` +
    `  waves:\n    - { name: canary, match: { labels: { ring: canary } }, gate: { success_percent: 100 } }\n` +
    `    - { name: early, percent: 10 }\n    - { name: half, percent: 50 }\n    - { name: everyone, percent: 100 }\n`
  );
}

interface Heard {
  labels: Record<string, string>;
  lastSeen?: number;
  applied?: string | undefined;
  healthy: boolean;
  healthySince?: number | undefined;
  /** Commits it reported failing, and when. */
  failed: Map<string, { at: number; reason: string }>;
  reported: Set<string>;
}

export class ModelRollgatePlane implements ControlPlane {
  state?: RolloutState;
  /** Rollout states written: what would be commits. */
  writes = 0;
  requests = { polls: 0, reports: 0, promotes: 0 };
  private fleet!: FleetDoc;
  private rollout!: FleetRollout;
  private readonly heard = new Map<string, Heard>();
  private readonly bad = new Set<string>();

  constructor(private readonly clock: Clock) {}

  /** The gateways the hub knows before any reports (added with their labels). */
  know(gateways: { id: string; labels: Record<string, string> }[]): void {
    for (const g of gateways)
      this.heard.set(g.id, { labels: g.labels, healthy: false, failed: new Map(), reported: new Set() });
  }

  async load(yaml: string): Promise<void> {
    const root = tempDir('rollgate-bench-model-');
    const dir = join(root, 'repo');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'rollgate.yaml'), yaml);
    ({ fleet: this.fleet, rollout: this.rollout } = await readFleet(new DirectorySource(dir)));
    rmSync(root, { recursive: true, force: true });
  }

  healthy(_g: SimGateway, commit: string): boolean {
    return !this.bad.has(commit);
  }

  /** `rollgate rollout start`: the first wave opens. */
  start(target: string, base: string, id: string, healthy: boolean): void {
    if (!healthy) this.bad.add(target);
    const o = startRollout({
      ...(this.state ? { previous: this.state } : {}),
      target,
      base,
      id,
      salt: `salt-${id}`,
      rollout: this.rollout,
      by: 'bench',
      why: id,
      now: this.clock.now(),
    });
    if (o.kind === 'write') this.write(o.state);
  }

  /** `rollgate rollout promote` on a timer, until the rollout is complete or aborted. */
  async run(everyMs: number): Promise<void> {
    while (this.state && (this.state.state === 'rolling' || this.state.state === 'paused')) {
      await this.clock.sleep(everyMs);
      this.requests.promotes++;
      const o = decidePromotion({
        state: this.state,
        fleet: this.fleet,
        rollout: this.rollout,
        evidence: { now: this.clock.now(), gateways: this.evidence() },
        by: 'promoter@bench',
        now: this.clock.now(),
      });
      if (o.kind === 'write') this.write(o.state);
    }
  }

  private write(s: RolloutState): void {
    this.state = s;
    this.writes++;
  }

  private evidence(): EvidenceGateway[] {
    const target = this.state!.target;
    const out: EvidenceGateway[] = [];
    for (const [id, h] of this.heard) {
      const on = h.applied === target;
      const failed = h.failed.get(target);
      out.push({
        id,
        labels: h.labels,
        ...(on || h.reported.has(target) ? { target } : h.applied ? { target: h.applied } : {}),
        ...(h.lastSeen !== undefined ? { lastSeen: h.lastSeen } : {}),
        ...(on && h.healthy && h.healthySince !== undefined ? { healthySince: h.healthySince } : {}),
        ...(failed ? { failed } : {}),
      });
    }
    return out;
  }

  async poll(g: SimGateway): Promise<PlaneAnswer> {
    this.requests.polls++;
    const head = `write-${this.writes}`;
    const st = this.state;
    if (!st) return { head, runs: g.applied ?? '' };
    const gateway = { id: g.id, labels: g.labels };
    const t = findTarget(this.fleet, gateway);
    const { key, policy } = trackOf(this.rollout, t >= 0 ? this.fleet.targets[t]!.name : undefined);
    const a = admit({ gateway, head, state: st, policy, track: key });
    const standing = standingOf(st, a);
    if (a.admitted || a.reason.code === 'aborted') return { head, runs: a.runs.commit, standing };
    return {
      head,
      runs: a.runs.commit,
      standing,
      deferred: { commit: st.target, cause: `${st.id} ${a.reason.code}`, detail: a.reason.message, until: 'open' },
    };
  }

  async report(g: SimGateway, status: ReportStatus, events: ReportEvent[]): Promise<void> {
    this.requests.reports++;
    const now = this.clock.now();
    const h: Heard = this.heard.get(g.id) ?? { labels: {}, healthy: false, failed: new Map(), reported: new Set() };
    h.labels = status.labels;
    const applied = status.applied?.commit;
    const healthy = status.conditions.some((c) => c.type === 'Healthy' && c.status === 'True');
    // As the hub keeps it: healthy since the first of an unbroken run of healthy reports on one commit.
    h.healthySince = !healthy || !applied ? undefined : h.healthy && h.applied === applied ? h.healthySince : now;
    h.applied = applied;
    h.healthy = healthy;
    h.lastSeen = now;
    for (const e of events) {
      if (!e.commit) continue;
      h.reported.add(e.commit);
      if (e.verdict === 'rolled-back') h.failed.set(e.commit, { at: now, reason: `rolled-back (${e.reason ?? ''})` });
    }
    this.heard.set(g.id, h);
  }
}
