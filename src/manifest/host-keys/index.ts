// The table of Compose keys that reach the host, one row a key, in the order breaches are listed:
// the services' rows, then the networks', then the volumes'.

import type { HostKey } from './row.js';
import { SERVICE_PRIVILEGE_KEYS } from './service-privileges.js';
import { SERVICE_NAMESPACE_KEYS } from './service-namespaces.js';
import { SERVICE_CONFINEMENT_KEYS } from './service-confinement.js';
import { NETWORK_KEYS } from './networks.js';
import { VOLUME_KEYS } from './volumes.js';

/**
 * Every Compose key that reaches the host. A key not here is in HARMLESS_KEYS, with the reason
 * (test/manifest/policy-table.test.ts holds both lists against keys.ts and the specification).
 */
export const HOST_KEYS: readonly HostKey[] = [
  ...SERVICE_PRIVILEGE_KEYS,
  ...SERVICE_NAMESPACE_KEYS,
  ...SERVICE_CONFINEMENT_KEYS,
  ...NETWORK_KEYS,
  ...VOLUME_KEYS,
];

export { HARMLESS_KEYS } from './harmless.js';
export { localVolumeKind } from './volumes.js';
export { list, type ComposeSubject, type Finding, type HostKey, type ServiceSubject } from './row.js';
