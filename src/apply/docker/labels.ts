// Labels and names of the Docker objects rollgate manages. The labels are the only bookkeeping:
// a fresh agent knows what runs, from which commit and with which configuration, from them.

export const LABEL = {
  app: 'io.rollgate.app',
  service: 'io.rollgate.service',
  commit: 'io.rollgate.commit',
  configHash: 'io.rollgate.config-hash',
  /** The transaction that created an object; undo and crash recovery find objects by it. */
  txn: 'io.rollgate.txn',
  network: 'io.rollgate.network',
  volume: 'io.rollgate.volume',
  /** The identity of the state directory whose agent created the object (safety rule 10). */
  owner: 'io.rollgate.owner',
  /** A container's `pre_stop` hooks (JSON), run before it stops even after its service changed. */
  preStop: 'io.rollgate.pre-stop',
} as const;

/**
 * Whether an object with these labels belongs to `owner`. Objects made before owners existed
 * carry none; they stay with whoever manages them, as before.
 */
export function ownedBy(labels: Record<string, string> | null | undefined, owner: string | undefined): boolean {
  const o = labels?.[LABEL.owner];
  return owner === undefined || o === undefined || o === owner;
}

/** `edge-api-3f2a9c1b`: readable in `docker ps`, distinct for each configuration of a service. */
export function containerName(app: string, service: string, configHash: string): string {
  return `${app}-${service}-${configHash.slice(0, 8)}`;
}

/** Compose's own convention, so `docker network ls` reads the same as with docker-compose. */
export function networkName(app: string, name: string): string {
  return `${app}_${name}`;
}

export function volumeName(app: string, name: string): string {
  return `${app}_${name}`;
}

/** Where the container that gave up its container_name waits until the change is confirmed. */
export const asideName = (name: string, txn: string) => `${name}-replaced-${txn.slice(0, 8)}`;

/** The new container's name until it takes the container_name. */
export const pendingName = (name: string, txn: string) => `${name}-${txn.slice(0, 8)}`;
