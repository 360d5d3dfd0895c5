// What a case of the policy's table is: a use of a key, under a policy, that the row allows or refuses.

import type { GatewayPolicy, PolicyRule } from '../../../src/manifest/index.js';
import type { DesiredNetwork, DesiredVolume, ServiceConfig, VolumeMount } from '../../../src/model/index.js';
import { svc } from '../../helpers/builders.js';

/** A service that asks for nothing of the host: what each case adds to. */
export const baseService = (): ServiceConfig => svc('svc', 'example/svc:1', { init: false }).config;

export interface ServiceCase {
  config?: Partial<ServiceConfig>;
  /** Where each mount was written (default: under volumes). */
  mountKey?: 'volumes' | 'configs' | 'secrets';
  networkNames?: Record<string, string>;
  policy: GatewayPolicy;
  /** The rule a refusal names, when not the row's own. */
  rule?: PolicyRule;
}
export interface NetworkCase {
  def?: Partial<DesiredNetwork>;
  engineName?: string;
  policy: GatewayPolicy;
  rule?: PolicyRule;
}
export interface VolumeCase {
  def?: Partial<DesiredVolume>;
  engineName?: string;
  unmanaged?: boolean;
  policy: GatewayPolicy;
  rule?: PolicyRule;
}
export type Cases<C> = { allowed: C[]; refused: C[] };

export const bind = (source: string): VolumeMount => ({ type: 'bind', source, target: '/x', readOnly: false });
export const hook = (privileged: boolean) => [{ command: ['true'], ...(privileged ? { privileged } : {}) }];
