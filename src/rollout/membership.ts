// Which wave a gateway is in: worked out the same by the gateway, the promoter and a person offline,
// from the policy, the gateway's id and labels, and the rollout's salt — no server, no clock.
//
// Waves that name gateways (match: labels or ids) take theirs first, whatever their place in the
// list; the rest are shared out by percent waves on a stable hash of the gateway id with the
// rollout's salt. Each gateway's bucket depends on nothing but its own id, so a fleet that grows
// does not move the others; and a gateway is in the first wave that takes it, never in a later one.

import { createHash } from 'node:crypto';
import { targetMatches } from '../manifest/index.js';
import type { DeviceIdentity } from '../model/index.js';
import type { RolloutPolicy, WaveMembership } from '../model/rollout.js';

/** Buckets have 52 bits, so a bucket and a threshold are exact as JavaScript numbers and in YAML. */
const SCALE = 2 ** 52;

/** The gateway's place in [0, 1) for this salt: the first 52 bits of sha256("<salt>\n<id>"). */
export function bucketOf(salt: string, id: string): number {
  const hex = createHash('sha256').update(`${salt}\n${id}`).digest('hex').slice(0, 13);
  return parseInt(hex, 16) / SCALE;
}

/** The first wave whose match takes the gateway, or -1. */
function matchWave(policy: RolloutPolicy, gateway: DeviceIdentity): number {
  return policy.waves.findIndex((w) => w.select.kind === 'match' && targetMatches(w.select.match, gateway));
}

/**
 * The threshold of percent wave `index`: the one the promoter published for it when it opened it,
 * else its percent / 100. The last percent wave (100) takes every bucket.
 */
export function waveThreshold(
  policy: RolloutPolicy,
  index: number,
  published: readonly (number | undefined)[] = [],
): { threshold: number; exact: boolean } {
  const w = policy.waves[index];
  if (!w || w.select.kind !== 'percent') throw new Error(`wave ${index} is not a percent wave`);
  if (w.select.percent >= 100) return { threshold: 1, exact: false };
  const p = published[index];
  return p === undefined ? { threshold: w.select.percent / 100, exact: false } : { threshold: p, exact: true };
}

/**
 * The gateway's wave. `published`: per wave index, the threshold the promoter admitted when it
 * opened that wave (rollgate-rollout.yaml), if any.
 */
export function waveOf(
  policy: RolloutPolicy,
  gateway: DeviceIdentity,
  salt: string,
  published: readonly (number | undefined)[] = [],
): WaveMembership {
  const of = policy.waves.length;
  const m = matchWave(policy, gateway);
  if (m >= 0) return { index: m, name: policy.waves[m]!.name, of, by: 'match' };
  const bucket = bucketOf(salt, gateway.id);
  for (let i = 0; i < of; i++) {
    if (policy.waves[i]!.select.kind !== 'percent') continue;
    const { threshold, exact } = waveThreshold(policy, i, published);
    if (bucket < threshold)
      return { index: i, name: policy.waves[i]!.name, of, by: 'percent', bucket, threshold, exact };
  }
  // A validated policy ends its percent waves with 100, which takes every bucket.
  throw new Error('the rollout policy has no percent wave of 100');
}

/**
 * The threshold a promoter publishes when it opens percent wave `index`, so that the wave takes
 * exactly its share (rounded up) of the gateways it knows that no match names — never less than the
 * waves before it, so no gateway moves back. A gateway that joins later is in the wave when its
 * bucket is under the threshold, as any other. Without known gateways: percent / 100.
 */
export function exactThreshold(
  policy: RolloutPolicy,
  index: number,
  known: readonly DeviceIdentity[],
  salt: string,
  published: readonly (number | undefined)[] = [],
): number {
  const w = policy.waves[index];
  if (!w || w.select.kind !== 'percent') throw new Error(`wave ${index} is not a percent wave`);
  if (w.select.percent >= 100) return 1;
  let floor = 0;
  for (let i = 0; i < index; i++)
    if (policy.waves[i]!.select.kind === 'percent')
      floor = Math.max(floor, waveThreshold(policy, i, published).threshold);
  const buckets = known
    .filter((g) => matchWave(policy, g) < 0)
    .map((g) => bucketOf(salt, g.id))
    .sort((a, b) => a - b);
  if (buckets.length === 0) return Math.max(floor, w.select.percent / 100);
  // percent × n / 100 as whole numbers where it can, so 95 × 20 gives 19 and not 19.000000000000004.
  const k = Math.max(1, Math.ceil((w.select.percent * buckets.length) / 100 - 1e-9));
  // Just above the k-th bucket: exactly the k lowest are under it (52 bits: ties do not happen in practice).
  const t = buckets[k - 1]! + 1 / SCALE;
  return Math.min(1, Math.max(floor, t));
}
