// The parent's side of the worker (./worker.ts): forks it for one job, passes on what it streams,
// and says how it ended. The worker runs in a process group of its own, on record in the state
// directory's process book with `endAtOnce`: should this process be killed while it works, the
// next agent's start kills it at once (not after the interfaces' grace) before resuming its
// journal, so no worker goes on writing the state beside a new agent.

import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Log } from '../base/log.js';
import { startTime } from '../base/proc.js';
import { bookGroup, GROUP_TOKEN_ENV, unbookGroup } from '../base/process-group.js';
import type { LifecycleMemory } from '../lifecycle/index.js';
import type { AgentConfig } from './config.js';
import type { CycleOutcome, WorkerEvent, WorkerJob, WorkerMessage, WorkerRequest } from './worker-protocol.js';

const WORKER_MAIN = fileURLToPath(new URL('./worker-main.js', import.meta.url));

/**
 * Node options that suit the resident part and not the worker: `--jitless` disables WebAssembly
 * (which the worker's libraries use) and runs everything in the interpreter, and a 1 MB young
 * generation makes a big apply collect garbage all the time. Dropped for the worker, and from
 * NODE_OPTIONS for it and everything it runs (interfaces, state scripts may be Node programs).
 */
const RESIDENT_ONLY = /^--(jitless|max[-_]semi[-_]space[-_]size(=.*)?)$/;

export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if (!RESIDENT_ONLY.test(a)) out.push(a);
    // `--max-semi-space-size 1`: its value goes with it.
    else if (!a.includes('=') && a !== '--jitless' && /^\d+$/.test(execArgv[i + 1] ?? '')) i++;
  }
  return out;
}

export function workerNodeOptions(nodeOptions: string | undefined): string | undefined {
  if (nodeOptions === undefined) return undefined;
  return workerExecArgv(nodeOptions.split(/\s+/).filter(Boolean)).join(' ');
}

/** The worker ended without saying how its work ended: killed (SIGKILL, OOM) or crashed. */
export class WorkerDiedError extends Error {
  override name = 'WorkerDiedError';
  constructor(
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
  ) {
    super(
      `the agent's worker process ${signal ? `was killed (${signal})` : `exited with code ${code}`} before its ` +
        'work was done',
    );
  }
}

/** The worker's own error (a ConfigError keeps its name, so the parent treats it as one). */
export class WorkerError extends Error {
  constructor(
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

export class WorkerRunner {
  private child: ChildProcess | undefined;

  constructor(
    private readonly stateDir: string,
    private readonly log: Log,
  ) {}

  /** The worker's pid while one runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Runs one job in a new worker and resolves to what it came to once it has exited; `onMessage`
   * is given what it streams, one message at a time, in order.
   */
  async run(
    config: AgentConfig,
    job: WorkerJob,
    memory: LifecycleMemory,
    onMessage: (m: WorkerEvent) => Promise<void> | void,
  ): Promise<{ outcome: CycleOutcome; memory: LifecycleMemory }> {
    const token = randomUUID();
    const since = new Date().toISOString();
    const what = `the agent's worker (${job.kind})`;
    // On record before it starts, as every group rollgate starts: a kill at any moment leaves it found.
    await bookGroup(this.stateDir, { token, what, since, endAtOnce: true }, this.log);
    const env: NodeJS.ProcessEnv = { ...process.env, [GROUP_TOKEN_ENV]: token };
    const nodeOptions = workerNodeOptions(process.env['NODE_OPTIONS']);
    if (nodeOptions !== undefined) env['NODE_OPTIONS'] = nodeOptions;
    let child: ChildProcess;
    try {
      child = fork(WORKER_MAIN, [], {
        execArgv: workerExecArgv(process.execArgv),
        env,
        // A group of its own: it is ended as one, and a terminal's ^C (the parent's to handle) does not reach it.
        detached: true,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'json',
      });
    } catch (err) {
      await unbookGroup(this.stateDir, token);
      throw err;
    }
    this.child = child;
    const pid = child.pid;
    if (pid !== undefined) {
      const started = startTime(pid);
      await bookGroup(
        this.stateDir,
        { pgid: pid, ...(started ? { started } : {}), token, what, since, endAtOnce: true },
        this.log,
      );
    }
    let chain: Promise<void> = Promise.resolve();
    let last: WorkerMessage | undefined;
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'done' || m.type === 'failed') last = m;
      else chain = chain.then(() => onMessage(m)).catch(() => {});
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: child.exitCode, signal: child.signalCode }));
    });
    const request: WorkerRequest = { type: 'run', config, job, memory };
    child.send(request);
    const { code, signal } = await exited;
    this.child = undefined;
    await chain;
    await unbookGroup(this.stateDir, token);
    const end = last as WorkerMessage | undefined;
    if (end?.type === 'done') return { outcome: end.outcome, memory: end.memory };
    if (end?.type === 'failed') throw new WorkerError(end.name, end.message);
    throw new WorkerDiedError(code, signal);
  }

  /** SIGTERM came: told to the worker (its step and health window run to their end, nothing after). */
  stopRequested(): void {
    const c = this.child;
    if (c?.connected) c.send({ type: 'stop' } satisfies WorkerRequest, () => {});
  }

  /** A second SIGTERM: the worker's group ends now; the journal resumes its work at the next start. */
  killNow(): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}
