// Compose lifecycle hooks, run through the Engine's exec API as `docker compose` runs them:
// `post_start` in a container once it started, `pre_stop` in a container before it stops. Each
// has a deadline; the Engine has no way to kill an exec, so a hook past its deadline is left to
// the container's own stop.

import { PassThrough } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { Log } from '../../base/log.js';
import { clip, CLIP_MARGIN } from '../../base/redact.js';
import type { ServiceHook } from '../../model/index.js';
import type { Engine } from './engine.js';

export interface HookResult {
  /** Absent when the hook did not end before its deadline. */
  exitCode?: number;
  /** The end of what it printed (stdout and stderr), bounded. */
  output: string;
}

const OUTPUT_LIMIT = 16 * 1024;

export async function runHook(
  engine: Engine,
  containerId: string,
  hook: ServiceHook,
  timeoutMs: number,
): Promise<HookResult> {
  const exec = await engine.call((d) =>
    d.getContainer(containerId).exec({
      Cmd: hook.command,
      AttachStdout: true,
      AttachStderr: true,
      ...(hook.user ? { User: hook.user } : {}),
      ...(hook.privileged ? { Privileged: true } : {}),
      ...(hook.workingDir ? { WorkingDir: hook.workingDir } : {}),
      ...(hook.environment ? { Env: Object.entries(hook.environment).map(([k, v]) => `${k}=${v}`) } : {}),
    }),
  );
  const stream = await engine.call(() => exec.start({ hijack: true, stdin: false }));
  // The end of what it printed, with a margin so that a secret the bound cuts is scrubbed whole
  // (../../base/redact.ts), each stream decoded as a stream: a character may come in two chunks.
  let output = '';
  const keep = () => {
    const text = new StringDecoder('utf8');
    return (c: Buffer) => {
      output = (output + text.write(c)).slice(-(OUTPUT_LIMIT + CLIP_MARGIN));
    };
  };
  const out = new PassThrough().on('data', keep());
  const err = new PassThrough().on('data', keep());
  engine.docker.modem.demuxStream(stream, out, err);
  let timer: NodeJS.Timeout | undefined;
  const ended = await Promise.race([
    new Promise<boolean>((resolve) => {
      stream.on('end', () => resolve(true));
      stream.on('close', () => resolve(true));
      stream.on('error', () => resolve(true));
    }),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (!ended) {
    stream.destroy();
    return { output: clip(output, OUTPUT_LIMIT, 'end') };
  }
  const info = await engine.call(() => exec.inspect());
  return { exitCode: info.ExitCode ?? 0, output: clip(output, OUTPUT_LIMIT, 'end') };
}

export const hookLine = (h: ServiceHook) => h.command.join(' ');

/** The last line of a hook's output, for a message. */
export function lastLine(output: string): string {
  return (
    output
      .trim()
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .slice(-1)[0] ?? ''
  );
}

/** Runs pre_stop hooks before a stop: each bounded; a failure is logged and the stop goes on, as in Compose. */
export async function runPreStop(
  engine: Engine,
  containerId: string,
  hooks: readonly ServiceHook[],
  timeoutMs: number,
  who: string,
  log: Log,
): Promise<void> {
  for (const [i, h] of hooks.entries()) {
    let r: HookResult;
    try {
      r = await runHook(engine, containerId, h, timeoutMs);
    } catch (err) {
      log.warn({ hook: hookLine(h) }, `pre_stop hook ${i + 1} of ${who} could not run: ${(err as Error).message}`);
      continue;
    }
    if (r.exitCode === undefined)
      log.warn(
        { hook: hookLine(h) },
        `pre_stop hook ${i + 1} of ${who} (${hookLine(h)}) did not end within ${timeoutMs / 1000} s; the stop goes on`,
      );
    else if (r.exitCode !== 0)
      log.warn(
        { hook: hookLine(h), exitCode: r.exitCode, output: r.output },
        `pre_stop hook ${i + 1} of ${who} (${hookLine(h)}) exited with code ${r.exitCode}; the stop goes on: ` +
          lastLine(r.output),
      );
    else log.info({ hook: hookLine(h) }, `pre_stop hook ${i + 1} of ${who} ran: ${hookLine(h)}`);
  }
}
