// Runs one interface call as a child process: argv only (no shell), in a process group of its
// own recorded in the state directory (src/base/process-group.ts), a deadline per call (SIGTERM
// to the group, then SIGKILL after a grace period), output captured with a size bound and logged.

import type { ChildProcess } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import type { Log } from '../../base/log.js';
import { clip, CLIP_MARGIN } from '../../base/redact.js';
import { runGroup } from '../../base/process-group.js';

export interface Invocation {
  /** The interface's name, for messages. */
  name: string;
  /** The component key, for messages. */
  component: string;
  state: string;
  executable: string;
  argv: string[];
  cwd?: string;
  timeoutMs: number;
  killGraceMs: number;
  /** Bytes kept of each of stdout and stderr. */
  outputLimit: number;
  log: Log;
  /** Added to the environment it inherits. */
  env?: Record<string, string>;
  /** Called once the process runs, e.g. to feed the Download streams. */
  whileRunning?: (child: ChildProcess, exited: Promise<void>) => Promise<void>;
  /** Where its process group is recorded while it runs, so a killed agent's leftovers are ended. */
  stateDir?: string;
}

export interface InvocationResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

/** A call that failed: names the interface, the component, the state and what it printed. */
export class InterfaceError extends Error {
  override name = 'InterfaceError';
  constructor(
    readonly invocation: Pick<Invocation, 'name' | 'component' | 'state'>,
    readonly what: string,
    readonly result?: Pick<InvocationResult, 'stdout' | 'stderr'> & Partial<Pick<InvocationResult, 'code'>>,
  ) {
    super(
      `interface "${invocation.name}" (component ${invocation.component}), ` +
        `state ${invocation.state}: ${what}${printed(result)}`,
    );
  }
}

function printed(r: Pick<InvocationResult, 'stdout' | 'stderr'> | undefined): string {
  if (!r) return '';
  const tail = (s: string) => clip(s.trim(), 600, 'end');
  const parts = [r.stderr.trim() && `stderr: ${tail(r.stderr)}`, r.stdout.trim() && `stdout: ${tail(r.stdout)}`].filter(
    Boolean,
  );
  return parts.length ? `; it printed ${parts.join(' | ')}` : '; it printed nothing';
}

/** The first `limit` bytes of a stream, and past them a margin, so a secret the bound cuts is scrubbed whole. */
class Capture {
  private chunks: Buffer[] = [];
  private kept = 0;
  private total = 0;
  constructor(private readonly limit: number) {}
  add(b: Buffer): void {
    this.total += b.length;
    const room = this.limit + CLIP_MARGIN - this.kept;
    if (room <= 0) return;
    const part = b.length > room ? b.subarray(0, room) : b;
    this.chunks.push(part);
    this.kept += part.length;
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    if (this.total <= this.limit) return all.toString('utf8');
    // The whole characters of the first `limit` bytes: where the cut goes once the secrets are out.
    const head = new StringDecoder('utf8').write(all.subarray(0, this.limit));
    const s = clip(all.toString('utf8'), head.length, 'start', '');
    return `${s}\n[… ${this.total - Buffer.byteLength(head)} more bytes not kept]`;
  }
}

export async function invoke(inv: Invocation): Promise<InvocationResult> {
  const started = Date.now();
  const out = new Capture(inv.outputLimit);
  const err = new Capture(inv.outputLimit);
  const run = await runGroup({
    file: inv.executable,
    args: inv.argv,
    ...(inv.cwd !== undefined ? { cwd: inv.cwd } : {}),
    ...(inv.env ? { env: inv.env } : {}),
    what: `"${inv.name}" (${inv.component}) ${inv.state}`,
    ...(inv.stateDir !== undefined ? { stateDir: inv.stateDir } : {}),
    timeoutMs: inv.timeoutMs,
    killGraceMs: inv.killGraceMs,
    onStdout: (b) => out.add(b),
    onStderr: (b) => err.add(b),
    onTimeout: () =>
      inv.log.warn(
        { interface: inv.name, component: inv.component, state: inv.state },
        `interface "${inv.name}" (${inv.component}) ${inv.state} ran past ${inv.timeoutMs} ms: SIGTERM to its ` +
          `process group, SIGKILL in ${inv.killGraceMs} ms`,
      ),
    log: inv.log,
  });
  const feeding = inv.whileRunning?.(run.child, run.exited);
  let status: Awaited<typeof run.done>;
  try {
    status = await run.done;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InterfaceError(
      inv,
      code === 'ENOENT'
        ? `${inv.executable} does not exist`
        : code === 'EACCES'
          ? `${inv.executable} is not executable`
          : `cannot start ${inv.executable}: ${(e as Error).message}`,
    );
  }
  const timedOut = status.timedOut;
  const feedError = await feeding?.then(
    () => undefined,
    (e: unknown) => e,
  );
  const result: InvocationResult = {
    code: status.code,
    signal: status.signal,
    stdout: out.text(),
    stderr: err.text(),
    timedOut,
    ms: Date.now() - started,
  };
  inv.log.debug(
    {
      interface: inv.name,
      component: inv.component,
      state: inv.state,
      code: status.code,
      ms: result.ms,
      stdout: result.stdout,
      stderr: result.stderr,
    },
    `interface "${inv.name}" ${inv.state} → ${status.code ?? status.signal}`,
  );
  if (timedOut)
    throw new InterfaceError(
      inv,
      `no answer within ${inv.timeoutMs} ms; stopped with ` +
        `SIGTERM${status.signal === 'SIGKILL' ? ' and then SIGKILL' : ''}`,
      result,
    );
  if (status.code !== 0)
    throw new InterfaceError(
      inv,
      status.signal ? `killed by ${status.signal}` : `exited with code ${status.code}`,
      result,
    );
  if (feedError) throw new InterfaceError(inv, (feedError as Error).message, result);
  return result;
}
