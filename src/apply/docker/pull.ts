// Image pulls: retried with backoff while the registry is unreachable, never retried when the
// image does not exist or the credentials are refused; credentials never reach the logs.

import type { Engine } from './engine.js';
import { DockerError, engineMessage, isConnectionError, unreachable } from './errors.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Log } from '../../base/log.js';
import { registryOf } from '../../manifest/index.js';

export interface RegistryCredentials {
  username: string;
  password: string;
}

/** Keyed by registry host as it appears in image references: `registry.example.com`, `127.0.0.1:5000`, `docker.io`. */
export type RegistryAuth = Record<string, RegistryCredentials>;

export interface PullOptions {
  /** Compose `platform:`, e.g. linux/arm64. */
  platform?: string;
  auth?: RegistryAuth;
  /** Attempts while the registry is unreachable or failing. */
  attempts?: number;
  backoffMs?: number;
  log: Log;
}

/** The registry an image reference points at: the policy's own answer, so a pull's credentials go where it allowed. */
export { registryOf };

type PullFailure = 'not-found' | 'auth' | 'unreachable' | 'other';

export function classifyPullError(msg: string): PullFailure {
  if (
    new RegExp(
      String.raw`manifest unknown|manifest for .* not found|not found: manifest|repository .* not found` +
        String.raw`|does not exist|name unknown|pull access denied`,
      'i',
    ).test(msg)
  )
    return 'not-found';
  if (/unauthorized|authentication required|no basic auth credentials|denied/i.test(msg)) return 'auth';
  if (
    new RegExp(
      String.raw`connection refused|no such host|i\/o timeout|dial tcp|TLS handshake timeout|EOF|server` +
        String.raw` misbehaving|connection reset|Client.Timeout|503|502|500 Internal`,
      'i',
    ).test(msg)
  )
    return 'unreachable';
  return 'other';
}

async function pullOnce(
  engine: Engine,
  ref: string,
  auth: RegistryCredentials | undefined,
  log: Log,
  platform?: string,
): Promise<void> {
  const stream = await engine.call((d) =>
    d.pull(ref, {
      ...(auth
        ? { authconfig: { username: auth.username, password: auth.password, serveraddress: registryOf(ref) } }
        : {}),
      ...(platform ? { platform } : {}),
    }),
  );
  const layers = new Set<string>();
  await new Promise<void>((resolve, reject) => {
    engine.docker.modem.followProgress(
      stream,
      (err: unknown, events: { error?: string }[]) => {
        const failed = err ?? events?.find((e) => e.error)?.error;
        if (failed) reject(failed instanceof Error ? failed : new Error(String(failed)));
        else resolve();
      },
      (ev: { id?: string; status?: string; error?: string }) => {
        if (ev.status === 'Pull complete' && ev.id && !layers.has(ev.id)) {
          layers.add(ev.id);
          log.info({ image: ref, layer: ev.id, layers: layers.size }, `pulling ${ref}: layer ${ev.id} complete`);
        }
      },
    );
  });
}

export async function pullImage(engine: Engine, ref: string, opts: PullOptions): Promise<void> {
  const registry = registryOf(ref);
  const attempts = opts.attempts ?? 4;
  let wait = opts.backoffMs ?? 500;
  opts.log.info({ image: ref, registry }, `pulling ${ref}`);
  for (let attempt = 1; ; attempt++) {
    try {
      await pullOnce(engine, ref, opts.auth?.[registry], opts.log, opts.platform);
      opts.log.info({ image: ref }, `pulled ${ref}`);
      return;
    } catch (err) {
      if (err instanceof DockerError) throw err; // the Engine itself is gone: engine.call already waited
      if (isConnectionError(err)) throw unreachable(engine.socketPath, err);
      const msg = engineMessage(err);
      const kind = classifyPullError(msg);
      if (kind === 'not-found')
        throw new DockerError('image-not-found', `image ${ref} was not found in registry ${registry}: ${msg}`);
      if (kind === 'auth')
        throw new DockerError(
          'registry-auth',
          `registry ${registry} refused the credentials ` +
            `for ${ref}: ${msg}${opts.auth?.[registry] ? '' : ' (no credentials are configured for this registry)'}`,
        );
      if (attempt >= attempts) {
        throw new DockerError(
          kind === 'unreachable' ? 'registry-unreachable' : 'engine',
          `could not pull ${ref} from registry ${registry} after ${attempt} attempts: ${msg}`,
        );
      }
      opts.log.warn(
        { image: ref, attempt, err: msg },
        `pull of ${ref} failed (attempt ${attempt} of ${attempts}), retrying in ${wait} ms: ${msg}`,
      );
      await sleep(wait);
      wait *= 2;
    }
  }
}
