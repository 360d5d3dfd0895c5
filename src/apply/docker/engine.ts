// One connection to a Docker Engine: dockerode on a unix socket, a count of API calls (the
// benchmark reports it), and patience for an Engine that restarts in the middle of an apply.

import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type Docker from 'dockerode';
import { setTimeout as sleep } from 'node:timers/promises';
import { DockerError, isConnectionError, unreachable } from './errors.js';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

export interface EngineOptions {
  /** Path of the Engine's unix socket. */
  socketPath: string;
  /** Socket idle timeout of one API call; long enough for a stop with its grace period. */
  callTimeoutMs?: number;
  /** How long a step keeps retrying while the Engine is unreachable (it may be restarting). */
  reconnectMs?: number;
}

/** `unix:///run/docker.sock`, `/run/docker.sock` or DOCKER_HOST; TCP Engines are not supported. */
export function socketFromHost(host: string | undefined): string {
  if (!host) return DEFAULT_DOCKER_SOCKET;
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  if (host.startsWith('/')) return host;
  throw new DockerError(
    'engine-unreachable',
    `Docker host "${host}" is not supported: give the Engine's unix socket, e.g. unix:///var/run/docker.sock`,
  );
}

// dockerode loads grpc, protobufjs and ssh2 with it (about 7 MB resident in the agent) for
// features rollgate does not use, so it is loaded on the first Engine call: a gateway without a
// Docker Engine never pays for it.
const requireCjs = createRequire(import.meta.url);

export class Engine {
  readonly socketPath: string;
  private readonly reconnectMs: number;
  private readonly callTimeoutMs: number;
  private client?: Docker;
  /** Engine API requests made so far. */
  calls = 0;

  constructor(opts: EngineOptions) {
    this.socketPath = opts.socketPath;
    this.reconnectMs = opts.reconnectMs ?? 60_000;
    this.callTimeoutMs = opts.callTimeoutMs ?? 120_000;
  }

  get docker(): Docker {
    if (this.client) return this.client;
    const DockerClass = requireCjs('dockerode') as typeof Docker;
    const client = new DockerClass({ socketPath: this.socketPath, timeout: this.callTimeoutMs });
    const modem = client.modem as unknown as { dial: (...args: unknown[]) => unknown };
    const dial = modem.dial.bind(modem);
    modem.dial = (...args: unknown[]) => {
      this.calls++;
      return dial(...args);
    };
    this.client = client;
    return client;
  }

  /** Fails with the socket named when the Engine does not answer. */
  async ping(): Promise<void> {
    const st = statSync(this.socketPath, { throwIfNoEntry: false });
    if (!st)
      throw unreachable(
        this.socketPath,
        Object.assign(new Error(`connect ENOENT ${this.socketPath}`), { code: 'ENOENT' }),
      );
    // Docker makes a directory where a bind mount's source is missing: a container that mounted
    // the socket on a host without one leaves a directory of its name.
    if (!st.isSocket())
      throw new DockerError(
        'engine-unreachable',
        `Docker Engine unreachable at unix://${this.socketPath}: it is a ${st.isDirectory() ? 'directory' : 'file'}, ` +
          'not a socket (is dockerd running?)',
      );
    try {
      await this.docker.ping();
    } catch (err) {
      throw isConnectionError(err) ? unreachable(this.socketPath, err) : err;
    }
  }

  /**
   * Runs an Engine call; while the Engine is unreachable, retries with backoff for up to
   * `reconnectMs`, then fails naming the socket. Calls must be safe to repeat.
   */
  async call<T>(fn: (docker: Docker) => Promise<T>, patient = true): Promise<T> {
    const deadline = Date.now() + (patient ? this.reconnectMs : 0);
    let wait = 200;
    for (;;) {
      try {
        return await fn(this.docker);
      } catch (err) {
        if (!isConnectionError(err)) throw err;
        if (Date.now() + wait > deadline) throw unreachable(this.socketPath, err);
        await sleep(wait);
        wait = Math.min(wait * 2, 2_000);
      }
    }
  }
}
