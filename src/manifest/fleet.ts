// Fleet targeting: which system a gateway gets, by id or labels; the first matching target wins.

import type { DeviceIdentity } from '../model/index.js';
import type { RolloutDoc } from './rollout.js';
import type { WindowDoc } from './window.js';

export const FLEET_FILE = 'rollgate.yaml';
/** sha256 of the artifacts fetched from the fleet's artifact_store, written by `rollgate artifacts lock`. */
export const ARTIFACT_LOCK_FILE = 'rollgate-artifacts.lock.yaml';

export interface TargetMatch {
  ids?: string[];
  labels?: Record<string, string | string[]>;
  any?: true;
}

export interface SystemFiles {
  manifest?: string;
  topology?: string;
  apps?: Record<string, string>;
  health?: string;
  state_scripts?: string;
  constraints?: string;
  artifacts?: string | string[];
  /** When gateways running this system may change (over the fleet's `window:`). */
  window?: WindowDoc;
}

export interface FleetTarget {
  name: string;
  match: TargetMatch;
  system: string;
  variables?: Record<string, string | number | boolean>;
  /** This target's own rollout policy, over the fleet's; `none`: its gateways take a rollout's target at once. */
  rollout?: RolloutDoc | 'none';
  /** This target's maintenance window, over its system's and the fleet's; `none`: its gateways change at any time. */
  window?: WindowDoc | 'none';
  overrides?: {
    component_types?: Record<string, { artifact_path?: string; artifact_name?: string; artifact_sha256?: string }>;
    apps?: Record<
      string,
      { services?: Record<string, { image?: string; environment?: Record<string, string | number | boolean> }> }
    >;
  };
}

export interface FleetDoc {
  apiVersion: 'rollgate/v1';
  kind: 'Fleet';
  artifact_store?: string;
  /** The fleet's rollout policy (README "Staged rollouts"); absent: every commit reaches every gateway at once. */
  rollout?: RolloutDoc;
  /** When the fleet's gateways may change what they run (README "Maintenance windows"); absent: at any time. */
  window?: WindowDoc;
  systems: Record<string, SystemFiles>;
  targets: FleetTarget[];
}

export function targetMatches(m: TargetMatch, device: DeviceIdentity): boolean {
  if (m.ids && !m.ids.includes(device.id)) return false;
  if (m.labels) {
    for (const [k, want] of Object.entries(m.labels)) {
      const have = device.labels[k];
      if (have === undefined) return false;
      if (Array.isArray(want) ? !want.includes(have) : want !== have) return false;
    }
  }
  return true;
}

/** Index of the first target matching the device, or -1. */
export function findTarget(fleet: FleetDoc, device: DeviceIdentity): number {
  return fleet.targets.findIndex((t) => targetMatches(t.match, device));
}

/** An identity that the target matches, for validating every target in CI. */
export function exampleIdentity(t: FleetTarget): DeviceIdentity {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(t.match.labels ?? {})) labels[k] = Array.isArray(v) ? v[0]! : v;
  return { id: t.match.ids?.[0] ?? `example-of-${t.name}`, labels };
}
