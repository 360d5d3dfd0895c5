// Whether the Docker Engine holds anything of rollgate's: containers, networks and volumes that
// carry rollgate's app label, whichever state directory made them. The agent asks it before it
// needs the Engine client on a gateway that desires no apps; the Engine's reads go over node:http
// (`Engine.read`), so asking loads no dockerode (ssh2, grpc-js, protobufjs).

import { Engine, LABEL } from '../apply/index.js';

const PROBE_TIMEOUT_MS = 10_000;

const nonEmpty = (v: unknown) => Array.isArray(v) && v.length > 0;

/** Rejects when the Engine does not answer (no socket, refused, not allowed, an error status). */
export async function holdsRollgateObjects(socketPath: string): Promise<boolean> {
  const engine = new Engine({ socketPath, callTimeoutMs: PROBE_TIMEOUT_MS });
  const filters = JSON.stringify({ label: [LABEL.app] });
  const [containers, networks, volumes] = await Promise.all([
    engine.read<unknown>('/containers/json', { all: '1', limit: '1', filters }, false),
    engine.read<unknown>('/networks', { filters }, false),
    engine.read<{ Volumes?: unknown } | null>('/volumes', { filters }, false),
  ]);
  return nonEmpty(containers) || nonEmpty(networks) || nonEmpty(volumes?.Volumes);
}
