// One probe per check kind. A probe answers pass or fail with a reason; it never throws and
// never outlives its timeout. Commands are spawned with argv arrays, no shell (safety rule 8).

import { spawn } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { connect } from 'node:net';
import type { HealthCheck } from '../model/index.js';

export interface ProbeResult {
  ok: boolean;
  /** Why it failed (or a short note when it passed), in the operator's terms. */
  detail: string;
  /**
   * Not decided yet (a healthcheck still `starting`, an Engine that does not answer now): not a
   * pass, and not a failure either until the window's deadline.
   */
  pending?: boolean;
}

/** What the container probe needs to know of the Engine; the agent passes one backed by Docker. */
export interface ContainerStates {
  /** The running containers of a service (any configuration), with their health when they have a healthcheck. */
  service(app: string, service: string): Promise<{ configHash?: string; running: boolean; health?: string }[]>;
}

export interface ProbeEnv {
  containers?: ContainerStates;
  /** The config hash each desired service should run, `app/service` → hash. */
  configHashes?: Map<string, string>;
}

const OUTPUT_LIMIT = 512;

// node:http rather than fetch: fetch refuses "bad ports" (6000, 6666, 10080, ...), which are
// fine ports for a service on a gateway.
function httpProbe(c: Extract<HealthCheck, { kind: 'http' }>): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(c.url);
    } catch {
      return resolve({ ok: false, detail: `${c.url} is not a URL` });
    }
    const get = url.protocol === 'https:' ? httpsGet : httpGet;
    const req = get(url, { timeout: c.timeoutMs, headers: { 'user-agent': 'rollgate-health' } }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      if (c.expectStatus.includes(status)) resolve({ ok: true, detail: `HTTP ${status}` });
      else resolve({ ok: false, detail: `${c.url} answered HTTP ${status}, expected ${c.expectStatus.join(' or ')}` });
      req.destroy();
    });
    req.once('timeout', () => {
      resolve({ ok: false, detail: `${c.url} did not answer within ${c.timeoutMs} ms` });
      req.destroy();
    });
    req.once('error', (err: NodeJS.ErrnoException) =>
      resolve({ ok: false, detail: `${c.url}: ${err.code ?? err.message}` }),
    );
  });
}

function tcpProbe(c: Extract<HealthCheck, { kind: 'tcp' }>): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const where = `${c.host}:${c.port}`;
    const s = connect({ host: c.host, port: c.port });
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () => done({ ok: false, detail: `${where}: no connection within ${c.timeoutMs} ms` }),
      c.timeoutMs,
    );
    s.once('connect', () => done({ ok: true, detail: `${where} accepts connections` }));
    s.once('error', (err: NodeJS.ErrnoException) =>
      done({ ok: false, detail: `${where}: ${err.code ?? err.message}` }),
    );
  });
}

function commandProbe(c: Extract<HealthCheck, { kind: 'command' }>): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const [file, ...args] = c.argv;
    let out = '';
    const keep = (b: Buffer) => {
      if (out.length < OUTPUT_LIMIT) out += b.toString().slice(0, OUTPUT_LIMIT - out.length);
    };
    // Its own process group, so a timeout takes down whatever the command started too.
    const child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, c.timeoutMs);
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, detail: `${file}: ${(err as NodeJS.ErrnoException).code ?? err.message}` });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const said = out.trim() ? `; it printed: ${out.trim()}` : '';
      if (timedOut)
        resolve({ ok: false, detail: `${c.argv.join(' ')} ran longer than ${c.timeoutMs} ms and was killed${said}` });
      else if (code === 0) resolve({ ok: true, detail: 'exit 0' });
      else resolve({ ok: false, detail: `${c.argv.join(' ')} exited ${code ?? signal}${said}` });
    });
  });
}

async function containerProbe(c: Extract<HealthCheck, { kind: 'container' }>, env: ProbeEnv): Promise<ProbeResult> {
  const name = `${c.app}/${c.service}`;
  if (!env.containers) return { ok: false, detail: `${name}: no Docker Engine to ask` };
  let list: Awaited<ReturnType<ContainerStates['service']>>;
  try {
    list = await Promise.race([
      env.containers.service(c.app, c.service),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`the Engine did not answer within ${c.timeoutMs} ms`)), c.timeoutMs).unref(),
      ),
    ]);
  } catch (err) {
    // The Engine may be restarting: what the container does cannot be told now, which is no failure yet.
    return {
      ok: false,
      pending: true,
      detail: `${name}: the Docker Engine does not answer: ${(err as Error).message}`,
    };
  }
  const want = env.configHashes?.get(name);
  const current = want ? list.filter((x) => x.configHash === want) : list;
  if (current.length === 0) return { ok: false, detail: `${name}: no container of the desired configuration` };
  const running = current.filter((x) => x.running);
  if (running.length === 0) return { ok: false, detail: `${name} is not running` };
  if (c.condition === 'healthy') {
    const healthy = running.some((x) => x.health === 'healthy');
    if (!healthy && running.some((x) => x.health === 'starting'))
      return { ok: false, pending: true, detail: `${name} is starting: its healthcheck has not decided yet` };
    if (!healthy)
      return { ok: false, detail: `${name} is ${running[0]!.health ?? 'without a health status'}, not healthy` };
    return { ok: true, detail: `${name} is healthy` };
  }
  return { ok: true, detail: `${name} is running` };
}

export function probe(c: HealthCheck, env: ProbeEnv): Promise<ProbeResult> {
  switch (c.kind) {
    case 'http':
      return httpProbe(c);
    case 'tcp':
      return tcpProbe(c);
    case 'command':
      return commandProbe(c);
    case 'container':
      return containerProbe(c, env);
  }
}
