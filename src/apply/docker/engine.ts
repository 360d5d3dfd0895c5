// One connection to a Docker Engine: reads (the lists and inspections observation makes) as plain
// GETs over node:http, and everything else through dockerode, loaded on the first such call; a
// count of API calls (the benchmark reports it), and patience for an Engine that restarts in the middle of an apply: an
// Engine that is stopping, restarting or answering with its shutdown errors is waited for, and
// only a fault that persists while it answers is the request's own.

import { existsSync, statSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import type Docker from 'dockerode';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DockerError,
  engineMessage,
  isConnectionError,
  isEngineGoingAway,
  portInUse,
  statusOf,
  unreachable,
} from './errors.js';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

export interface EngineOptions {
  /** Path of the Engine's unix socket. */
  socketPath: string;
  /** Socket idle timeout of one API call; long enough for a stop with its grace period. */
  callTimeoutMs?: number;
  /** How long a step keeps retrying while the Engine is unreachable (it may be restarting). */
  reconnectMs?: number;
}

/** Whether the Engine went away (stopped, restarted) since the watch began. */
export interface EngineWatch {
  readonly interrupted: boolean;
  /** `interrupted`, or the Engine does not answer a new connection now (it may be shutting down). */
  check(): Promise<boolean>;
  stop(): void;
}

const PING_TIMEOUT_MS = 5_000;

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

// dockerode loads grpc, protobufjs and ssh2 with it (about 7 MB resident, and 110 ms of a
// `rollgate apply`) for features rollgate does not use, so it is loaded on the first call that
// changes something: observing an Engine, and a reconcile with nothing to do, never load it.
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
    // A connection per call, never kept alive: dockerd stopping closes its listener first and
    // then serves the connections already open while it stops every container and closes its
    // stores, so a kept connection would see the Engine's own shutdown as exited containers and
    // "database not open". A new connection is refused at once, and the call waits for the Engine.
    const client = new DockerClass({
      socketPath: this.socketPath,
      timeout: this.callTimeoutMs,
      agent: new Agent({ keepAlive: false }),
    } as Docker.DockerOptions);
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
      await this.get('/_ping');
    } catch (err) {
      throw isConnectionError(err) ? unreachable(this.socketPath, err) : err;
    }
  }

  /**
   * One GET of the Engine's API, answered with JSON: `path` with its query, e.g.
   * `/containers/json?all=1`. Waited for and retried as `call` does; fails as dockerode does (the
   * status in `statusCode`, the Engine's message in `json.message`), so errors.ts reads both alike.
   */
  read<T>(path: string, query: Record<string, string | undefined> = {}, patient = true): Promise<T> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, v);
    const full = q.size ? `${path}?${q.toString()}` : path;
    return this.retrying(async () => JSON.parse((await this.get(full)).toString('utf8')) as T, patient);
  }

  /** The body of a GET that answered 2xx, on a connection of its own (see `docker`). */
  private get(path: string): Promise<Buffer> {
    this.calls++;
    const timeout = this.callTimeoutMs;
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, path, agent: false, timeout }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(body);
          reject(engineAnswer(status, body));
        });
      });
      req.on('timeout', () =>
        req.destroy(Object.assign(new Error(`Timeout of ${timeout}ms exceeded`), { code: 'ETIMEDOUT' })),
      );
      req.on('error', reject);
      req.end();
    });
  }

  /** How long a call waits for an Engine that went away before it fails. */
  get patienceMs(): number {
    return this.reconnectMs;
  }

  /**
   * Whether the Engine answers a ping on a new connection now: one that is shutting down has
   * closed its listener already, and a hung one does not answer in time.
   */
  answers(): Promise<boolean> {
    if (!existsSync(this.socketPath)) return Promise.resolve(false);
    return new Promise((resolve) => {
      const req = request({ socketPath: this.socketPath, path: '/_ping', agent: false, timeout: PING_TIMEOUT_MS });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('timeout', () => req.destroy(new Error('ping timed out')));
      req.on('error', () => resolve(false));
      req.end();
    });
  }

  /** Waits until the Engine answers, for up to `patienceMs`; then fails naming the socket. */
  async waitUntilAnswering(cause?: unknown, deadline = Date.now() + this.reconnectMs): Promise<void> {
    let wait = 200;
    for (;;) {
      if (await this.answers()) return;
      if (Date.now() + wait > deadline)
        throw unreachable(
          this.socketPath,
          cause ?? Object.assign(new Error(`connect ENOENT ${this.socketPath}`), { code: 'ENOENT' }),
        );
      await sleep(wait);
      wait = Math.min(wait * 2, 2_000);
    }
  }

  /** Times a call found the Engine away (stopping, restarting, gone) so far. */
  outages = 0;

  /**
   * Notices the Engine going away from now on, however briefly: an events stream stays open on
   * the Engine's socket, and an Engine that stops closes it. Calls that found it away count too.
   */
  watch(): EngineWatch {
    const before = this.outages;
    let broken = false;
    let stopped = false;
    const lost = () => {
      if (!stopped) broken = true;
    };
    const req = request({
      socketPath: this.socketPath,
      path: `/events?filters=${encodeURIComponent(JSON.stringify({ type: ['daemon'] }))}`,
    });
    req.on('response', (res) => {
      if (res.statusCode !== 200) lost();
      res.on('data', () => {});
      res.on('end', lost);
      res.on('close', lost);
      res.on('error', lost);
    });
    req.on('error', lost);
    req.end();
    // The stream must not keep the agent's event loop alive on its own.
    req.on('socket', (s) => s.unref());
    const away = () => broken || this.outages > before;
    return {
      get interrupted() {
        return away();
      },
      check: async () => away() || !(await this.answers()),
      stop() {
        stopped = true;
        req.destroy();
      },
    };
  }

  /**
   * Runs an Engine call. An Engine that is unreachable or answers with its shutdown errors is
   * waited for (with backoff, for up to `reconnectMs`) and the call made again; then it fails
   * naming the socket. A server error while the Engine answers a ping is tried once more: only a
   * fault that persists with a healthy Engine is the call's own. Calls must be safe to repeat.
   */
  call<T>(fn: (docker: Docker) => Promise<T>, patient = true): Promise<T> {
    return this.retrying(() => fn(this.docker), patient);
  }

  private async retrying<T>(fn: () => Promise<T>, patient: boolean): Promise<T> {
    const deadline = Date.now() + (patient ? this.reconnectMs : 0);
    let whileUp = 0;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        const away = isEngineGoingAway(err);
        const serverError = (statusOf(err) ?? 0) >= 500 && !portInUse(engineMessage(err));
        if (!patient) throw isConnectionError(err) ? unreachable(this.socketPath, err) : err;
        if (!away && !serverError) throw err;
        if (await this.answers()) {
          // An Engine just started may still open its stores ("failed to update store" on a fresh
          // Engine was seen too): its own texts get a few tries, any other server error one.
          if (whileUp >= (away ? 3 : 1) || Date.now() > deadline)
            throw isConnectionError(err) ? unreachable(this.socketPath, err) : err;
          await sleep(200 * 2 ** whileUp++);
          continue;
        }
        this.outages++;
        await this.waitUntilAnswering(err, deadline);
        whileUp = 0;
      }
    }
  }
}

/** An Engine's error answer, shaped as dockerode's (statusCode, json.message) for errors.ts. */
function engineAnswer(status: number, body: Buffer): Error {
  const text = body.toString('utf8').trim();
  let json: { message?: string } | null = null;
  try {
    json = JSON.parse(text) as { message?: string };
  } catch {
    // The Engine answers JSON; a proxy in front of it may not.
  }
  const message = json?.message ?? (text || `HTTP ${status}`);
  return Object.assign(new Error(message), { statusCode: status, json });
}
