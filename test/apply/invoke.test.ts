// One interface call as a real child process: bounded output, the deadline (SIGTERM to the
// whole process group, then SIGKILL), and errors that name the interface, component and state.

import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { InterfaceError } from '../../src/apply/index.js';
import { type Log } from '../../src/base/log.js';
import { invoke, type Invocation } from '../../src/apply/interface/invoke.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';
import { running } from '../helpers/proc.js';

const dir = tempDir('rollgate-invoke-');
after(() => cleanup(dir));

function script(name: string, body: string, mode = 0o755): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, mode);
  return p;
}

function recorder(): Log & { lines: { level: string; obj: Record<string, unknown>; msg: string }[] } {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => void lines.push({ level, obj, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const call = (executable: string, more: Partial<Invocation> = {}) =>
  invoke({
    name: 'rtos',
    component: 'R456',
    state: 'ArtifactInstall',
    executable,
    argv: ['ArtifactInstall', dir, 'rtos'],
    timeoutMs: 30_000,
    killGraceMs: 1_000,
    outputLimit: 64 * 1024,
    log: recorder(),
    ...more,
  });

/** Whether a process is still there; a zombie counts as gone. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return running(pid);
}

describe('an interface call', () => {
  test('output past the bound is dropped and counted, in the result and in the log', async () => {
    const exe = script('chatty', 'head -c 200000 /dev/zero | tr "\\0" o\nhead -c 100000 /dev/zero | tr "\\0" e >&2');
    const log = recorder();
    const r = await call(exe, { outputLimit: 4096, log });
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${'o'.repeat(4096)}\n[… ${200000 - 4096} more bytes not kept]`);
    assert.equal(r.stderr, `${'e'.repeat(4096)}\n[… ${100000 - 4096} more bytes not kept]`);
    const logged = log.lines.find((l) => l.obj['state'] === 'ArtifactInstall');
    assert.ok(logged, 'the call is logged');
    assert.equal(logged.obj['stdout'], r.stdout);
  });

  test(
    'a failure names the interface, component, state and exit code, and quotes the end of what it ' + 'printed',
    async () => {
      const exe = script('fails', `echo "${'x'.repeat(2000)}"; echo "flash write failed at block 7" >&2; exit 5`);
      await assert.rejects(call(exe), (e: unknown) => {
        assert.ok(e instanceof InterfaceError);
        assert.match(
          e.message,
          new RegExp(
            String.raw`^interface "rtos" \(component R456\), state ArtifactInstall: exited with code 5; i` +
              String.raw`t printed stderr: flash write failed at block 7 \| stdout: …x{600}$`,
          ),
        );
        return true;
      });
    },
  );

  test('past its deadline the whole process group gets SIGTERM, and what ignores it SIGKILL', async () => {
    const pidFile = join(dir, 'child.pid');
    // A child in the background that would outlive its parent, and a parent that ignores SIGTERM.
    const exe = script(
      'stubborn',
      `sleep 300 &\necho $! > ${pidFile}\ntrap '' TERM\necho "still busy" >&2\nwhile :; do sleep 1; done`,
    );
    const log = recorder();
    await assert.rejects(call(exe, { timeoutMs: 500, killGraceMs: 500, log }), (e: unknown) => {
      assert.ok(e instanceof InterfaceError);
      assert.match(
        e.message,
        new RegExp(
          String.raw`state ArtifactInstall: no answer within 500 ms; stopped with SIGTERM and then SIGK` +
            String.raw`ILL; it printed stderr: still busy`,
        ),
      );
      return true;
    });
    assert.ok(
      log.lines.some(
        (l) => l.level === 'warn' && /ran past 500 ms: SIGTERM to its process group, SIGKILL in 500 ms/.test(l.msg),
      ),
    );
    const child = Number(readFileSync(pidFile, 'utf8'));
    // The signal is delivered asynchronously: wait for it, bounded.
    for (let i = 0; i < 50 && alive(child); i++) await sleep(100);
    assert.equal(alive(child), false, `the background child ${child} was stopped with its interface`);
  });

  test('an executable that is missing or not executable is a clear error, not a crash', async () => {
    await assert.rejects(
      call(join(dir, 'nope')),
      /interface "rtos" \(component R456\), state ArtifactInstall: \S+\/nope does not exist/,
    );
    const plain = script('not-executable', 'exit 0', 0o644);
    await assert.rejects(call(plain), /state ArtifactInstall: \S+\/not-executable is not executable/);
  });

  test('a state the interface does not know: nothing printed, exit 0, which is success', async () => {
    const exe = script('minimal', 'case "$1" in ArtifactInstall) echo installing ;; esac');
    const r = await call(exe, {
      state: 'ArtifactVerifyRollbackReboot',
      argv: ['ArtifactVerifyRollbackReboot', dir, 'rtos'],
    });
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '');
  });

  test(
    'it exits leaving a child that holds its output: the call ends, and that child is ended',
    { timeout: 60_000 },
    async () => {
      const pidFile = join(dir, 'left.pid');
      const exe = script('leaves-child', `sleep 1000 &\necho $! > ${pidFile}\necho installed`);
      const log = recorder();
      const r = await call(exe, { killGraceMs: 2_000, log });
      assert.equal(r.code, 0);
      assert.equal(r.stdout, 'installed\n');
      const child = Number(readFileSync(pidFile, 'utf8'));
      for (let i = 0; i < 50 && alive(child); i++) await sleep(100);
      assert.equal(alive(child), false, `the child ${child} holding the output was ended`);
      assert.ok(
        log.lines.some(
          (l) => l.level === 'warn' && new RegExp(`leaving 1 process\\(es\\) .*pids ${child}\\)`).test(l.msg),
        ),
        'and that is said',
      );
    },
  );

  test(
    'past its deadline, a child that left the group holding the output does not hang the call',
    { timeout: 60_000 },
    async () => {
      const pidFile = join(dir, 'escaped.pid');
      const exe = script('escapes', `setsid sleep 1000 &\necho $! > ${pidFile}\nexec sleep 3600`);
      try {
        await assert.rejects(call(exe, { timeoutMs: 500, killGraceMs: 500 }), /no answer within 500 ms/);
      } finally {
        const escaped = Number(readFileSync(pidFile, 'utf8'));
        // Not in the interface's group any more, so not rollgate's to end: the test ends it.
        assert.equal(alive(escaped), true, 'a process that left the group is not signalled');
        process.kill(escaped, 'SIGKILL');
      }
    },
  );

  test('while it runs its process group is recorded in the state directory, and forgotten when it ends', async () => {
    const state = join(dir, 'state');
    mkdirSync(state, { mode: 0o700 });
    const go = join(dir, 'go');
    const exe = script('waits', `while [ ! -f ${go} ]; do sleep 0.05; done`);
    const running = call(exe, { stateDir: state });
    const book = join(state, 'processes', `${process.pid}.json`);
    type Book = { pid: number; groups: { pgid?: number; token: string; what: string }[] };
    // The record is written before the process starts (so a kill right after the spawn finds it by
    // its token); its group id follows once the process runs.
    const read = (): Book | undefined =>
      existsSync(book) ? (JSON.parse(readFileSync(book, 'utf8')) as Book) : undefined;
    let doc = read();
    for (let i = 0; i < 500 && doc?.groups[0]?.pgid === undefined; i++) {
      await sleep(20);
      doc = read();
    }
    assert.ok(doc, 'the book is written');
    assert.equal(doc.pid, process.pid);
    assert.equal(doc.groups.length, 1);
    assert.equal(doc.groups[0]!.what, '"rtos" (R456) ArtifactInstall');
    assert.ok(alive(doc.groups[0]!.pgid!), 'the group is named by its leader, which runs');
    assert.ok(
      readFileSync(`/proc/${doc.groups[0]!.pgid}/environ`, 'utf8').includes(
        `ROLLGATE_PROCESS_GROUP=${doc.groups[0]!.token}`,
      ),
      'the token is in its environment',
    );
    writeFileSync(go, '');
    await running;
    assert.equal(existsSync(book), false, 'nothing is left on record once it ended');
  });
});
