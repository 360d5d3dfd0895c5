// Runs Mender state scripts as Mender does: the scripts of a state and action in name order,
// each as an executable with no arguments and no shell, under a deadline, its output bounded and
// logged. A non-zero exit of an Enter or Leave script fails the update; exit 21 asks to be run
// again after a while (until the retry timeout); Error scripts' exit codes are ignored. Scripts
// are written from the commit into `<state-dir>/scripts/<sha256>` before they run.

import { chmod, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeFileAtomic } from '../base/atomic-write.js';
import type { Log } from '../base/log.js';
import { clip } from '../base/redact.js';
import { statePath } from '../base/state-dir.js';
import type { ScriptAction, ScriptState, StateScript } from '../model/index.js';
import { crashPoint } from './crash-points.js';
import { InterfaceError, invoke } from './interface/invoke.js';

/** Mender's exit code for "run me again later". */
export const RETRY_LATER = 21;

export class StateScriptError extends Error {
  override name = 'StateScriptError';
}

export interface ScriptTimeouts {
  /** Longest one run of a script may take (Mender's StateScriptTimeoutSeconds). */
  timeoutMs: number;
  /** Between the runs of a script that asked to be run again (StateScriptRetryIntervalSeconds). */
  retryIntervalMs: number;
  /** Longest a script may keep asking (StateScriptRetryTimeoutSeconds). */
  retryTimeoutMs: number;
}

export const DEFAULT_SCRIPT_TIMEOUTS: ScriptTimeouts = {
  timeoutMs: 3_600_000,
  retryIntervalMs: 60_000,
  retryTimeoutMs: 1_800_000,
};

/** What the journal keeps of script runs, so a resumed transaction never runs one twice. */
export interface ScriptJournal {
  done(name: string): boolean;
  record(name: string): Promise<void>;
}

export class StateScriptRunner {
  constructor(
    private readonly scripts: readonly StateScript[],
    private readonly o: {
      stateDir: string;
      /** The gateway's identity and the commit, for the scripts' environment. */
      env: Record<string, string>;
      timeouts?: Partial<ScriptTimeouts>;
      log: Log;
    },
  ) {}

  /** The scripts of a state and action, in the order they run. */
  of(state: ScriptState, action: ScriptAction): StateScript[] {
    return this.scripts.filter((s) => s.state === state && s.action === action);
  }

  private async path(s: StateScript): Promise<string> {
    const dir = statePath(this.o.stateDir, 'scripts');
    const file = join(dir, s.sha256);
    if (
      await stat(file).then(
        (st) => st.isFile(),
        () => false,
      )
    )
      return file;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(file, Buffer.from(s.base64, 'base64'));
    await chmod(file, 0o700);
    return file;
  }

  /**
   * Runs the scripts of `state`'s `action` that the journal has not seen run. Throws
   * StateScriptError for a failing Enter or Leave script; Error scripts never throw.
   */
  async run(state: ScriptState, action: ScriptAction, journal: ScriptJournal): Promise<void> {
    const t = { ...DEFAULT_SCRIPT_TIMEOUTS, ...this.o.timeouts };
    for (const s of this.of(state, action)) {
      if (journal.done(s.name)) continue;
      crashPoint('script');
      const exe = await this.path(s);
      const started = Date.now();
      for (;;) {
        try {
          await invoke({
            name: s.name,
            component: 'gateway',
            state: `${state}_${action}`,
            executable: exe,
            argv: [],
            cwd: statePath(this.o.stateDir, 'scripts'),
            timeoutMs: t.timeoutMs,
            killGraceMs: 5_000,
            outputLimit: 16 * 1024,
            log: this.o.log,
            env: { ...this.o.env, ROLLGATE_STATE: state, ROLLGATE_ACTION: action },
            stateDir: this.o.stateDir,
          });
          this.o.log.info({ script: s.name }, `state script ${s.name} ran`);
          break;
        } catch (err) {
          if (!(err instanceof InterfaceError)) throw err;
          const code = err.result?.code;
          if (code === RETRY_LATER && Date.now() - started + t.retryIntervalMs <= t.retryTimeoutMs) {
            this.o.log.info({ script: s.name }, `state script ${s.name} asks to run again later (exit 21)`);
            await sleep(t.retryIntervalMs);
            continue;
          }
          const why = `state script ${s.name} ${err.what}${tail(err.result?.stderr || err.result?.stdout)}`;
          if (action === 'Error') {
            this.o.log.warn({ script: s.name }, `${why}; an Error script's failure is ignored`);
            break;
          }
          throw new StateScriptError(code === RETRY_LATER ? `${why}, and its retry timeout passed` : why);
        }
      }
      await journal.record(s.name);
    }
  }
}

const tail = (s: string | undefined) => {
  const last = (s ?? '').trim().split('\n').slice(-1)[0]?.trim();
  return last ? `: ${clip(last, 300, 'start')}` : '';
};
