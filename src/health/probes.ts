// One probe per check kind. A probe answers pass or fail with a reason; it never throws and
// never outlives its timeout. Commands are spawned with argv arrays, no shell (safety rule 8).

import { constants } from 'node:fs';
import { access, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { runGroup } from '../base/process-group.js';
import { clip, CLIP_MARGIN } from '../base/redact.js';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { connect } from 'node:net';
import type { HealthCheck } from '../model/index.js';
import {
  commandShape,
  healthCommandUser,
  hostPath,
  SYSTEM_PATH,
  underAny,
  type GatewayPolicy,
} from '../manifest/index.js';
import { redactUrl } from '../base/url.js';

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
  /**
   * The agent's state directory: a command that lands in it (a file of the fleet repo) is never run;
   * command checks' process groups are recorded there while they run (src/base/process-group.ts).
   */
  stateDir?: string;
  /** The gateway's policy: under one, command checks run as nobody (healthCommandUser). */
  policy?: GatewayPolicy;
}

/**
 * The file a health command runs, or why it does not: a bare name on SYSTEM_PATH (never the
 * agent's own PATH), an absolute path; either one, once every symlink is followed, outside the
 * state directory, where the fleet repo's files are written (the agent runs it as root).
 */
export async function resolveCommand(exe: string, stateDir?: string): Promise<{ file: string } | { refused: string }> {
  const shape = commandShape(exe, stateDir);
  if (shape) return { refused: shape };
  let file: string | undefined = exe;
  if (!exe.includes('/')) {
    file = undefined;
    for (const dir of SYSTEM_PATH) {
      const candidate = join(dir, exe);
      if (
        await access(candidate, constants.X_OK).then(
          () => true,
          () => false,
        )
      ) {
        file = candidate;
        break;
      }
    }
    if (!file) return { refused: `${exe}: not found on the system PATH (${SYSTEM_PATH.join(':')})` };
  }
  let real: string;
  try {
    real = await realpath(file);
  } catch (err) {
    return { refused: `${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  if (stateDir !== undefined) {
    const dir = await realpath(stateDir).catch(() => stateDir);
    const d = hostPath(dir);
    if (typeof d !== 'string' && underAny(real, [d.path]))
      return {
        refused:
          `${file} resolves to ${real}, in the state directory, where the fleet repo's files are; the agent ` +
          `never runs them`,
      };
  }
  return { file };
}

/** Between SIGTERM and SIGKILL for a command check past its timeout. */
const COMMAND_KILL_GRACE_MS = 1_000;

const OUTPUT_LIMIT = 512;

// node:http rather than fetch: fetch refuses "bad ports" (6000, 6666, 10080, ...), which are
// fine ports for a service on a gateway.
function httpProbe(c: Extract<HealthCheck, { kind: 'http' }>): Promise<ProbeResult> {
  // A URL's user and password (http://user:pw@host/) are in messages as ***, like the repository's.
  const shown = redactUrl(c.url);
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(c.url);
    } catch {
      return resolve({ ok: false, detail: `${shown} is not a URL` });
    }
    const get = url.protocol === 'https:' ? httpsGet : httpGet;
    const req = get(url, { timeout: c.timeoutMs, headers: { 'user-agent': 'rollgate-health' } }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      if (c.expectStatus.includes(status)) resolve({ ok: true, detail: `HTTP ${status}` });
      else resolve({ ok: false, detail: `${shown} answered HTTP ${status}, expected ${c.expectStatus.join(' or ')}` });
      req.destroy();
    });
    req.once('timeout', () => {
      resolve({ ok: false, detail: `${shown} did not answer within ${c.timeoutMs} ms` });
      req.destroy();
    });
    req.once('error', (err: NodeJS.ErrnoException) =>
      resolve({ ok: false, detail: `${shown}: ${err.code ?? err.message}` }),
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

async function commandProbe(c: Extract<HealthCheck, { kind: 'command' }>, env: ProbeEnv): Promise<ProbeResult> {
  const [exe, ...args] = c.argv;
  const found = await resolveCommand(exe ?? '', env.stateDir);
  if ('refused' in found) return { ok: false, detail: `not run: ${found.refused}` };
  const file = found.file;
  // The start of what it printed, with a margin so that a secret the bound cuts is scrubbed whole
  // (../base/redact.ts), each stream decoded as a stream: a character may come in two chunks.
  let out = '';
  const room = OUTPUT_LIMIT + CLIP_MARGIN;
  const keep = () => {
    const text = new StringDecoder('utf8');
    return (b: Buffer) => {
      if (out.length < room) out += text.write(b).slice(0, room - out.length);
    };
  };
  // Dropping to nobody takes root to do; an agent that is not root runs it as itself, unprivileged already.
  const user = process.getuid?.() === 0 ? healthCommandUser(env.policy) : undefined;
  // Its own process group, so a timeout takes down whatever the command started too.
  const run = await runGroup({
    file,
    args,
    // argv0 as written: a multi-call binary (busybox) picks its applet by it.
    argv0: exe!,
    env: { PATH: SYSTEM_PATH.join(':') },
    ...(user ? { user, cwd: '/' } : {}),
    what: `health check ${c.name} (${c.argv.join(' ')})`,
    ...(env.stateDir !== undefined ? { stateDir: env.stateDir } : {}),
    timeoutMs: c.timeoutMs,
    killGraceMs: COMMAND_KILL_GRACE_MS,
    onStdout: keep(),
    onStderr: keep(),
  });
  let r: Awaited<typeof run.done>;
  try {
    r = await run.done;
  } catch (err) {
    return { ok: false, detail: `${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  const said = out.trim() ? `; it printed: ${clip(out.trim(), OUTPUT_LIMIT, 'start')}` : '';
  if (r.timedOut)
    return { ok: false, detail: `${c.argv.join(' ')} ran longer than ${c.timeoutMs} ms and was killed${said}` };
  if (r.code === 0) return { ok: true, detail: 'exit 0' };
  return { ok: false, detail: `${c.argv.join(' ')} exited ${r.code ?? r.signal}${said}` };
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
      return commandProbe(c, env);
    case 'container':
      return containerProbe(c, env);
  }
}
