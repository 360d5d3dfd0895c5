// `rollgate agent` as a separate process, as systemd runs it: its JSON log lines collected, its
// persisted state read from the state directory, SIGTERM and SIGKILL like the real thing.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentState } from '../../src/agent/state.js';
import { CLI } from './cli.js';

export interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

/** The newest history entry about a commit. */
export function lastHistory(s: Pick<AgentState, 'history'>, commit: string): AgentState['history'][number] | undefined {
  return [...s.history].reverse().find((h) => h.commit === commit);
}

/** The live worker processes (`dist/src/agent/worker-main.js`) whose parent is `pid`. */
export function workersOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== pid || fields[0] === 'Z') continue;
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('worker-main.js')) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Every live worker process of this state directory's agents, orphans included (their parent killed). */
export function workersIn(stateDir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (!readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('worker-main.js')) continue;
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (isWorkerOfDir(Number(name), stateDir)) out.push(Number(name));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out;
}

/** Whether the worker `pid` is on record in the state directory's process book. */
function isWorkerOfDir(pid: number, stateDir: string): boolean {
  const dir = join(stateDir, 'processes');
  if (!existsSync(dir)) return false;
  return readdirSync(dir).some((f) => {
    try {
      return readFileSync(join(dir, f), 'utf8').includes(`"pgid": ${pid}`);
    } catch {
      return false;
    }
  });
}

export class AgentProcess {
  readonly logs: LogLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private stderr = '';

  constructor(
    readonly stateDir: string,
    args: string[],
    env: Record<string, string> = {},
    /** Options for node itself, before the script (V8 flags, --report-on-signal, ...). */
    nodeArgs: string[] = [],
  ) {
    this.child = spawn(
      process.execPath,
      [
        ...nodeArgs,
        CLI,
        'agent',
        '--state-dir',
        stateDir,
        '--metrics-listen',
        '127.0.0.1:0',
        '--config',
        '/dev/null',
        ...args,
      ],
      { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let partial = '';
    this.child.stdout!.on('data', (c: Buffer) => {
      partial += c.toString();
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const l of lines) {
        try {
          this.logs.push(JSON.parse(l) as LogLine);
        } catch {
          this.logs.push({ level: 'raw', msg: l });
        }
      }
    });
    this.child.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The agent's worker processes alive now (its children that run the worker's entry): none at rest. */
  workerPids(): number[] {
    return workersOf(this.pid);
  }

  /** The state file, parsed: it must always be readable. */
  state(): AgentState | undefined {
    const f = join(this.stateDir, 'agent-state.json');
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as AgentState) : undefined;
  }

  text(): string {
    return this.logs.map((l) => `${l.level} ${l.msg}`).join('\n') + (this.stderr ? `\nstderr: ${this.stderr}` : '');
  }

  /** Waits for the state to satisfy `test`; fails with the log when the agent dies or time runs out. */
  async until(what: string, test: (s: AgentState) => boolean, ms = 60_000): Promise<AgentState> {
    const end = Date.now() + ms;
    for (;;) {
      const s = this.state();
      if (s && test(s) && !existsSync(join(this.stateDir, 'journal.json'))) return s;
      if (!this.running) throw new Error(`the agent exited while waiting for ${what}:\n${this.text()}`);
      if (Date.now() > end)
        throw new Error(`timed out waiting for ${what}; state ${JSON.stringify(s)}\n${this.text()}`);
      await sleep(150);
    }
  }

  async waitForLog(re: RegExp, ms = 30_000): Promise<LogLine> {
    const end = Date.now() + ms;
    for (;;) {
      const l = this.logs.find((x) => re.test(x.msg));
      if (l) return l;
      if (Date.now() > end || !this.running) throw new Error(`no log line ${re}:\n${this.text()}`);
      await sleep(100);
    }
  }

  metricsUrl(): Promise<string> {
    return this.waitForLog(/rollgate agent started/).then((l) => String(l['metrics']));
  }

  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.kill('SIGTERM');
    return this.exited;
  }

  async kill(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exited;
  }
}
