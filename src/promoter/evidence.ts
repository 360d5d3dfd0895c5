// The hub's evidence about a rollout's target as it comes over the wire (GET
// /api/v1/rollouts/{id}/evidence?target=<sha>), read strictly: a hub that answers something else is
// an error, never evidence. Times are milliseconds on the hub's clock; absent values are null.

import type { EvidenceGateway, RolloutEvidence } from '../model/rollout.js';

/** The wire form of one gateway: every key present, null when unknown. */
export interface EvidenceGatewayJson {
  id: string;
  labels: Record<string, string>;
  target: string | null;
  lastSeen: number | null;
  healthySince: number | null;
  failed: { at: number; reason: string } | null;
}

export interface RolloutEvidenceJson {
  rollout: string;
  /** Null when the request named none and no gateway's reports name one. */
  target: string | null;
  now: number;
  gateways: EvidenceGatewayJson[];
}

export class EvidenceError extends Error {
  override name = 'EvidenceError';
}

export function evidenceJson(id: string, target: string | null, e: RolloutEvidence): RolloutEvidenceJson {
  return {
    rollout: id,
    target,
    now: e.now,
    gateways: e.gateways.map((g) => ({
      id: g.id,
      labels: g.labels,
      target: g.target ?? null,
      lastSeen: g.lastSeen ?? null,
      healthySince: g.healthySince ?? null,
      failed: g.failed ?? null,
    })),
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Reads the answer of the evidence route; throws EvidenceError naming what is wrong. */
export function parseEvidence(doc: unknown, target: string): RolloutEvidence {
  const bad = (what: string) => new EvidenceError(`the hub's evidence is not readable: ${what}`);
  if (!isObject(doc) || !isTime(doc['now']) || !Array.isArray(doc['gateways']))
    throw bad('expected { now, gateways: [...] }');
  if (doc['target'] !== undefined && doc['target'] !== target)
    throw bad(`it is about ${String(doc['target'])}, not the target ${target}`);
  const gateways: EvidenceGateway[] = doc['gateways'].map((raw: unknown, i) => {
    const at = `gateways[${i}]`;
    if (!isObject(raw) || typeof raw['id'] !== 'string' || !isObject(raw['labels']))
      throw bad(`${at}: no id or labels`);
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw['labels'])) {
      if (typeof v !== 'string') throw bad(`${at}.labels.${k} is not a string`);
      labels[k] = v;
    }
    const g: EvidenceGateway = { id: raw['id'], labels };
    const t = raw['target'];
    if (t !== null && t !== undefined) {
      if (typeof t !== 'string') throw bad(`${at}.target is not a commit`);
      g.target = t;
    }
    for (const k of ['lastSeen', 'healthySince'] as const) {
      const v = raw[k];
      if (v === null || v === undefined) continue;
      if (!isTime(v)) throw bad(`${at}.${k} is not a time in milliseconds`);
      g[k] = v;
    }
    const f = raw['failed'];
    if (f !== null && f !== undefined) {
      if (!isObject(f) || !isTime(f['at']) || typeof f['reason'] !== 'string')
        throw bad(`${at}.failed is not { at, reason }`);
      g.failed = { at: f['at'], reason: f['reason'] };
    }
    return g;
  });
  return { now: doc['now'], gateways };
}
