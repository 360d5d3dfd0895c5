// The admission gates' ports in memory, for the gates' table tests (pure logic: what a gate
// answers for what its ports say). The agent's tests wire the real ones: a git server, real keys.

import { DirectorySource } from '../../src/manifest/index.js';
import type { DesiredState, DeviceIdentity } from '../../src/model/index.js';
import type { FleetRollout } from '../../src/model/rollout.js';
import type { GatePorts, LoadedCommit, Subject } from '../../src/lifecycle/gates/index.js';
import { parseRolloutState, type ParsedRolloutState } from '../../src/rollout/index.js';
import { desired } from './builders.js';

export const HEAD = 'f'.repeat(40);
export const BASE = 'a'.repeat(40);
export const TARGET = 'b'.repeat(40);
export const APPLIED = 'c'.repeat(40);

export const subject = (over: Partial<Subject> = {}): Subject => ({
  head: HEAD,
  commit: HEAD,
  applied: APPLIED,
  ...over,
});

/** Ports that admit everything and have no rollout; `calls` lists what was asked, in order. */
export function ports(over: Partial<GatePorts> = {}): GatePorts & { calls: string[] } {
  const calls: string[] = [];
  const loaded = (commit: string): LoadedCommit => ({
    desired: { ...desired([], []), source: { commit } } as DesiredState,
    repo: new DirectorySource('/nonexistent'),
  });
  const gateway: DeviceIdentity = { id: 'gw-test', labels: {} };
  const base: GatePorts = {
    verify: (c) => (calls.push(`verify ${c.slice(0, 1)}`), Promise.resolve(undefined)),
    descends: (c, a) => (calls.push(`descends ${c.slice(0, 1)} ${a.slice(0, 1)}`), Promise.resolve(true)),
    gateway,
    rolloutState: (c) => (calls.push(`rolloutState ${c.slice(0, 1)}`), Promise.resolve(undefined)),
    rolloutPolicy: (c) => (calls.push(`rolloutPolicy ${c.slice(0, 1)}`), Promise.resolve({ rollout: { targets: {} } })),
    load: (c) => (calls.push(`load ${c.slice(0, 1)}`), Promise.resolve(loaded(c))),
  };
  return Object.assign({ ...base, ...over }, { calls });
}

/** rollgate-rollout.yaml of edge-v2 (BASE → TARGET), parsed as the agent parses it. */
export function rolloutFile(
  o: { state?: string; fleetWaves?: number; bad?: string[]; base?: string; target?: string } = {},
): ParsedRolloutState {
  const waves = Array.from({ length: o.fleetWaves ?? 1 }, (_, i) => `    - { opened: 2026-11-03T1${i}:00:00Z }`);
  const text =
    'apiVersion: rollgate/v1\nkind: Rollout\nid: edge-v2\nsalt: 5b0f3c9a\n' +
    `base: ${o.base ?? BASE}\ntarget: ${o.target ?? TARGET}\nstate: ${o.state ?? 'rolling'}\n` +
    (waves.length ? `waves:\n  fleet:\n${waves.join('\n')}\n` : '') +
    (o.bad?.length
      ? `bad:\n${o.bad.map((c) => `  - { commit: ${c}, rollout: edge-v2, reason: "api down" }`).join('\n')}\n`
      : '');
  return parseRolloutState(new TextEncoder().encode(text));
}

export type { FleetRollout };
