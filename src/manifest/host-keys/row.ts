// One row of the table of Compose keys that reach the host: what a check sees (the subjects), what it
// finds, and the small helpers the rows share to say it.

import type { DesiredNetwork, DesiredVolume, ServiceConfig } from '../../model/index.js';
import type { GatewayPolicy, PolicyRule } from '../policy.js';
import { hostPath, underAny } from '../host-path.js';

/** What one row's check found: where, under the row's key, and what; `rule` when another rule than the row's. */
export interface Finding {
  at: (string | number)[];
  message: string;
  rule?: PolicyRule;
}

/** A service as the checks see it. */
export interface ServiceSubject {
  name: string;
  config: ServiceConfig;
  /** Where each of `config.volumes` was written, under the service: ['volumes', 2], ['secrets', 0]. */
  mountAt: (string | number)[][];
  /** The index in `ports:` of each of `config.ports`. */
  portAt: number[];
  /** The Engine name of each network key the service joins. */
  networkNames: Record<string, string>;
}

export interface NetworkSubject {
  def: DesiredNetwork;
  engineName: string;
}

export interface VolumeSubject {
  def: DesiredVolume;
  engineName: string;
  /** At apply time: a volume of this name is on the gateway, and rollgate did not make it. */
  unmanaged?: boolean;
}

/** One Compose app as the checks see it. */
export interface ComposeSubject {
  services: ServiceSubject[];
  networks: NetworkSubject[];
  volumes: VolumeSubject[];
}

interface RowBase {
  key: string;
  /** What on the host the key reaches. */
  reaches: string;
  /** The rule that allows it. */
  rule: PolicyRule;
  /** Checked again at apply time on what the gateway has (paths resolved, volumes found there). */
  atApply?: true;
}

/** A Compose key that reaches the host, the rule that allows it, and the check. */
export type HostKey =
  | (RowBase & { scope: 'service'; check: (s: ServiceSubject, p: GatewayPolicy) => Finding[] })
  | (RowBase & { scope: 'network'; check: (n: NetworkSubject, p: GatewayPolicy) => Finding[] })
  | (RowBase & { scope: 'volume'; check: (v: VolumeSubject, p: GatewayPolicy) => Finding[] });

export const list = (xs: readonly string[] | undefined) => (xs?.length ? xs.join(', ') : 'none');
/** What is allowed: what always is, then what the policy adds. */
export const plus = (always: string, more: readonly string[] | undefined) => [always, ...(more ?? [])].join(', ');
/** Whether a namespace mode is the container's own: joining none, the host's or another container's. */
export const ownNamespace = (mode: string | undefined, own: readonly string[]) =>
  mode === undefined || own.includes(mode);

/** Why a bind of `raw` is refused by policy.bindPaths, if it is. */
export function bindFinding(raw: string, p: GatewayPolicy, what: string): string | undefined {
  const h = hostPath(raw);
  if (typeof h === 'string') return `${what} ${h}`;
  if (underAny(h.path, p.bindPaths ?? [])) return undefined;
  return `${what} ${h.path} is not allowed (allowed under: ${p.bindPaths?.length ? p.bindPaths.join(', ') : 'none'})`;
}

export const one = (when: boolean, message: string, at: (string | number)[] = []): Finding[] =>
  when ? [{ at, message }] : [];
