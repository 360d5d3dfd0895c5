// Every executable rollgate runs on the gateway (update interfaces, state scripts, health
// commands, the reboot command) runs in a process group of its own, and is recorded while it
// runs, so that nothing it started outlives rollgate's interest in it:
//
// - past its deadline the whole group gets SIGTERM, then SIGKILL after the grace;
// - when it exits while something it started still holds its output (`sleep 1000 &`), that is
//   ended the same way, and the output is no longer waited for, so no call hangs on a pipe;
// - each rollgate process keeps the groups it started in `<state-dir>/processes/<pid>.json`;
//   when the agent starts after it was killed (kill -9, OOM), it ends what the dead process left
//   (`endLeftoverGroups`) before it resumes the journal. A process is only ever signalled when
//   it is provably that group's: in the group, with the group's random token in its environment
//   (inherited from the leader), and for the leader the start time recorded (/proc). A reused
//   pid, pid 1 or an unrelated process named by a damaged or hand-made file is never signalled.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeFileAtomic } from './atomic-write.js';
import type { Log } from './log.js';
import { allProcesses, environHas, groupMembers, procInfo, startTime, type ProcInfo } from './proc.js';
import { describeProblem, fields, optional, shapeProblem, type Shape } from './shape.js';
import { readStateFile, STATE_FILE_MAX_BYTES } from './state-file.js';
import { statePath } from './state-dir.js';

/** In the environment of every process rollgate starts: `<token>`, inherited by what it starts. */
export const GROUP_TOKEN_ENV = 'ROLLGATE_PROCESS_GROUP';

/** After the leader exits, how long its output may stay open before the group counts as holding it. */
const DRAIN_MS = 1_000;
/** How often a group is looked at while it is being ended. */
const POLL_MS = 50;

export interface GroupRecord {
  /**
   * The group, once it runs. The record is written before the process starts (so a kill at any
   * moment leaves it on record): absent, its processes are found by their token alone.
   */
  pgid?: number;
  /** The leader's start time (/proc); absent when it was gone before it could be read. */
  started?: string;
  token: string;
  /** What runs, for the log: `interface "rtos" (R456) Download`. */
  what: string;
  since: string;
  /**
   * Left over, it gets SIGKILL at once rather than SIGTERM and the grace: the agent's worker, which
   * must not go on writing the state beside a new agent, and whose journal the new one resumes.
   * Ended before any other record is looked at, so that the groups the worker started are found
   * left over (their owner gone) in the same pass.
   */
  endAtOnce?: boolean;
}

interface BookFile {
  schema: 'rollgate.processes/v1';
  /** The rollgate process that started the groups, and its start time. */
  pid: number;
  started: string;
  groups: GroupRecord[];
}

const BOOK_SHAPE: Shape = fields<BookFile>({
  schema: { literal: 'rollgate.processes/v1' },
  pid: 'number',
  started: 'string',
  groups: {
    list: fields<GroupRecord>({
      pgid: optional('number'),
      started: optional('string'),
      token: 'string',
      what: 'string',
      since: 'string',
      endAtOnce: optional('boolean'),
    }),
  },
});

/** This process's record of the groups it runs, in one state directory. Writes are best effort, in order. */
class GroupBook {
  private static readonly books = new Map<string, GroupBook>();
  /** By token. */
  private readonly groups = new Map<string, GroupRecord>();
  private writing: Promise<void> = Promise.resolve();
  private warned = false;

  private constructor(
    private readonly dir: string,
    private readonly log: Log | undefined,
  ) {}

  static of(stateDir: string, log?: Log): GroupBook {
    const dir = statePath(resolve(stateDir), 'processes');
    let b = GroupBook.books.get(dir);
    if (!b) GroupBook.books.set(dir, (b = new GroupBook(dir, log)));
    return b;
  }

  private get file(): string {
    return join(this.dir, `${process.pid}.json`);
  }

  /** Records (or updates) a group; resolves once the record is written. */
  add(r: GroupRecord): Promise<void> {
    this.groups.set(r.token, r);
    return this.flush();
  }

  remove(token: string): Promise<void> {
    if (!this.groups.delete(token)) return Promise.resolve();
    return this.flush();
  }

  private flush(): Promise<void> {
    const groups = [...this.groups.values()];
    this.writing = this.writing.then(async () => {
      try {
        if (groups.length === 0) return void (await rm(this.file, { force: true }));
        // Not recursive: a state directory that does not exist (a read-only `rollgate diff`) is not made.
        await mkdir(this.dir, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw e;
        });
        const doc: BookFile = {
          schema: 'rollgate.processes/v1',
          pid: process.pid,
          started: startTime(process.pid) ?? '',
          groups,
        };
        await writeFileAtomic(this.file, JSON.stringify(doc, null, 1) + '\n', { durable: false });
      } catch (err) {
        if (this.warned) return;
        this.warned = true;
        this.log?.warn(
          { file: this.file, err: (err as Error).message },
          `cannot record the processes rollgate starts in ${this.dir} (${(err as Error).message}); if rollgate ` +
            'is killed, what it started is not ended at the next start',
        );
      }
    });
    return this.writing;
  }
}

/**
 * Records a group this process started outside runGroup (the agent's worker), so that a next
 * start ends it if this process is killed; resolves once the record is written.
 */
export function bookGroup(stateDir: string, r: GroupRecord, log?: Log): Promise<void> {
  return GroupBook.of(stateDir, log).add(r);
}

/** The group ended (or was never started): its record goes. */
export function unbookGroup(stateDir: string, token: string): Promise<void> {
  return GroupBook.of(stateDir).remove(token);
}

/**
 * The running processes that provably belong to a recorded group: with the group's token in
 * their environment, in the group when it is known, and for the leader the start time recorded.
 * A damaged or hand-made record naming pid 1 or an unrelated process (which has no token) names
 * nothing.
 */
function membersOf(g: Pick<GroupRecord, 'pgid' | 'started' | 'token'>): ProcInfo[] {
  const token = `${GROUP_TOKEN_ENV}=${g.token}`;
  const ours = (p: ProcInfo) => p.pid !== process.pid && p.pid > 1 && environHas(p.pid, token);
  // Killed between writing the record and starting the process: found by the token alone.
  if (g.pgid === undefined) return allProcesses().filter(ours);
  if (!Number.isInteger(g.pgid) || g.pgid <= 1 || g.pgid === process.pid) return [];
  const leader = procInfo(g.pgid);
  // A live process with the leader's pid but another start time: the pid was reused, so the
  // group (which would have kept the pid from reuse) is gone.
  if (leader && leader.state !== 'Z' && g.started !== undefined && leader.started !== g.started) return [];
  return groupMembers(g.pgid).filter(
    (p) => ours(p) && (p.pid !== g.pgid || g.started === undefined || p.started === g.started),
  );
}

const signal = (pid: number, sig: NodeJS.Signals) => {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
};

/**
 * Ends the processes of a group that are provably its own: SIGTERM, then SIGKILL to those still
 * there after `graceMs` (each checked again to be the same process). Resolves to the pids ended.
 */
export async function endGroup(
  g: Pick<GroupRecord, 'pgid' | 'started' | 'token'>,
  graceMs: number,
  first: NodeJS.Signals = 'SIGTERM',
): Promise<number[]> {
  const found = membersOf(g);
  if (found.length === 0) return [];
  const same = (p: ProcInfo) => procInfo(p.pid)?.started === p.started && procInfo(p.pid)?.state !== 'Z';
  for (const p of found) signal(p.pid, first);
  const end = Date.now() + graceMs;
  while (found.some(same) && Date.now() < end) await sleep(POLL_MS);
  for (const p of found) if (same(p)) signal(p.pid, 'SIGKILL');
  return found.map((p) => p.pid);
}

export interface GroupRunOptions {
  file: string;
  args: string[];
  cwd?: string;
  /** Added to the environment it inherits. */
  env?: Record<string, string>;
  /** argv[0] as written, when it differs from `file` (a multi-call binary such as busybox picks its applet by it). */
  argv0?: string;
  /** Run as this user and group instead of rollgate's own. */
  user?: { uid: number; gid: number };
  /** For the record and the log: `interface "rtos" (R456) Download`. */
  what: string;
  /** Where the group is recorded while it runs; absent: not recorded. */
  stateDir?: string;
  timeoutMs: number;
  /** Between SIGTERM and SIGKILL. */
  killGraceMs: number;
  onStdout(b: Buffer): void;
  onStderr(b: Buffer): void;
  /** Told when the deadline passed, before the group gets SIGTERM. */
  onTimeout?(): void;
  log?: Log;
}

export interface GroupRunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Pids of what it left holding its output after it exited, which were ended. */
  leftOver: number[];
  /** Its output was still held open when the call ended (by a process that left the group). */
  outputCut: boolean;
}

export interface GroupRun {
  child: ChildProcess;
  /** Resolves when the leader has exited (whatever its output does). */
  exited: Promise<void>;
  /** The call's end; rejects only when the executable could not be started. */
  done: Promise<GroupRunResult>;
}

/** Runs `file` in a process group of its own (see the top of this file). */
export async function runGroup(o: GroupRunOptions): Promise<GroupRun> {
  const token = randomUUID();
  const book = o.stateDir !== undefined ? GroupBook.of(o.stateDir, o.log) : undefined;
  let record: GroupRecord = { token, what: o.what, since: new Date().toISOString() };
  // On record before it starts: whenever rollgate is killed, what it started can be found.
  await book?.add(record);
  // Never systemd's notify socket: the unit lets any of its processes speak for the agent there
  // (NotifyAccess=all, for systemd-notify), and WATCHDOG=trigger or STOPPING=1 are not theirs to send.
  const env: NodeJS.ProcessEnv = { ...process.env, ...o.env, [GROUP_TOKEN_ENV]: token };
  delete env['NOTIFY_SOCKET'];
  const child = spawn(o.file, o.args, {
    cwd: o.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env,
    ...(o.argv0 !== undefined ? { argv0: o.argv0 } : {}),
    ...(o.user ? { uid: o.user.uid, gid: o.user.gid } : {}),
  });
  child.stdout!.on('data', (b: Buffer) => o.onStdout(b));
  child.stderr!.on('data', (b: Buffer) => o.onStderr(b));
  if (child.pid !== undefined) {
    const started = startTime(child.pid);
    record = { ...record, pgid: child.pid, ...(started ? { started } : {}) };
    void book?.add(record);
  }
  const group = () => record;
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, sig);
    } catch {
      // the group is gone
    }
  };

  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const termTimer = setTimeout(() => {
    timedOut = true;
    o.onTimeout?.();
    signalGroup('SIGTERM');
    killTimer = setTimeout(() => signalGroup('SIGKILL'), o.killGraceMs);
  }, o.timeoutMs);

  let outputClosed = false;
  const closed = new Promise<void>((r) =>
    child.once('close', () => {
      outputClosed = true;
      r();
    }),
  );
  const exitedWith = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res, rej) => {
    child.once('error', rej);
    child.once('exit', (code, signal) => res({ code, signal }));
  });
  const exited = exitedWith.then(
    () => undefined,
    () => undefined,
  );

  const done = (async (): Promise<GroupRunResult> => {
    let status: { code: number | null; signal: NodeJS.Signals | null };
    try {
      status = await exitedWith;
    } catch (err) {
      clearTimeout(termTimer);
      await book?.remove(token);
      throw err;
    }
    let leftOver: number[] = [];
    try {
      await Promise.race([closed, sleep(Math.min(DRAIN_MS, o.killGraceMs))]);
      if (!outputClosed) {
        // It exited, and what it started keeps its output open: the call would never end.
        clearTimeout(termTimer);
        if (killTimer) clearTimeout(killTimer);
        leftOver = await endGroup(group(), o.killGraceMs, timedOut ? 'SIGKILL' : 'SIGTERM');
        if (leftOver.length)
          o.log?.warn(
            { pids: leftOver },
            `${o.what} exited, leaving ${leftOver.length} process(es) of its own holding its output ` +
              `(pids ${leftOver.join(', ')}); they were ended`,
          );
        await Promise.race([closed, sleep(Math.min(DRAIN_MS, o.killGraceMs))]);
      } else if (timedOut) {
        // Past its deadline: nothing of its group outlives the call.
        await endGroup(group(), 0, 'SIGKILL');
      }
    } finally {
      clearTimeout(termTimer);
      if (killTimer) clearTimeout(killTimer);
      const outputCut = !outputClosed;
      if (outputCut) {
        // Held by a process that left the group (setsid): not rollgate's to end, and not waited for.
        child.stdout?.destroy();
        child.stderr?.destroy();
      }
      await book?.remove(token);
    }
    return { ...status, timedOut, leftOver, outputCut: !outputClosed };
  })();
  return { child, exited, done };
}

/**
 * At start, before the journal is resumed: ends what rollgate processes that are gone (killed)
 * left running, from their files in `<state-dir>/processes`, and removes those files. Files of
 * rollgate processes still running (a `rollgate diff` beside the agent) are left alone.
 */
export async function endLeftoverGroups(stateDir: string, graceMs: number, log: Log): Promise<number[]> {
  const dir = statePath(stateDir, 'processes');
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /^\d+\.json$/.test(n));
  } catch {
    return [];
  }
  const docs: { file: string; doc: BookFile }[] = [];
  for (const name of names) {
    const file = join(dir, name);
    let doc: BookFile;
    try {
      const text = await readStateFile(file, STATE_FILE_MAX_BYTES.processes);
      if (text === undefined) continue;
      const parsed: unknown = JSON.parse(text);
      const wrong = shapeProblem(parsed, BOOK_SHAPE);
      if (wrong) throw new Error(describeProblem(wrong));
      doc = parsed as BookFile;
    } catch (err) {
      // Written whole by rollgate: damage from outside. Kept aside for a look; nothing it names is signalled.
      await rename(file, `${file}.broken`).catch(() => {});
      log.warn(
        { file, err: (err as Error).message },
        `${file} is not a record of rollgate's processes (${(err as Error).message}); moved to ${file}.broken, ` +
          'and nothing it names is signalled',
      );
      continue;
    }
    docs.push({ file, doc });
  }
  // A killed agent's worker first: until it is gone its own record counts as alive, and what it
  // started would be left running.
  const atOnce = (d: BookFile) => d.groups.some((g) => g.endAtOnce === true);
  docs.sort((a, b) => Number(atOnce(b.doc)) - Number(atOnce(a.doc)));
  const ended: number[] = [];
  for (const { file, doc } of docs) {
    // Alive, and not a zombie: a killed agent's worker, killed in turn, may stay one where nothing reaps orphans.
    const owner = doc.pid === process.pid ? undefined : procInfo(doc.pid);
    if (owner && owner.state !== 'Z' && doc.started !== '' && owner.started === doc.started) continue; // alive
    for (const g of doc.groups) {
      const pids = g.endAtOnce ? await endGroup(g, graceMs, 'SIGKILL') : await endGroup(g, graceMs);
      if (pids.length === 0) continue;
      ended.push(...pids);
      log.warn(
        { what: g.what, pids, since: g.since, by: doc.pid },
        `${g.what}, started ${g.since} by rollgate pid ${doc.pid}, which is gone, was still running ` +
          `(pids ${pids.join(', ')}): ended`,
      );
    }
    await rm(file, { force: true });
  }
  return ended;
}
