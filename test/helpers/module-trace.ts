// Which modules a rollgate process has loaded, asked of the real process: `node --import` this
// file (MODULE_TRACE_ARGS) with MODULE_TRACE_ENV set to a file, and the process writes there every
// module it loaded so far when it gets SIGUSR2, and again as it exits. ES modules are seen by
// loader hooks (./module-trace-hooks.ts), CommonJS ones in the require cache (dockerode and pg
// are CommonJS, and dockerode is required, not imported), Node's own in process.moduleLoadList.

import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createRequire, register } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const MODULE_TRACE_ENV = 'ROLLGATE_TEST_MODULE_TRACE';

/** The node options that load the trace into a process. */
export const MODULE_TRACE_ARGS = ['--import', import.meta.url];

// Set only in the environment of a traced process: a test that imports these helpers is not traced.
// A process forked with an IPC channel (the agent's worker) writes beside it, to `<file>.worker-<pid>`:
// the file is the traced process's own.
const traced = process.env[MODULE_TRACE_ENV];
const out = traced && process.send ? `${traced}.worker-${process.pid}` : traced;
if (out) {
  const esm = `${out}.${process.pid}.esm`;
  register('./module-trace-hooks.js', import.meta.url, { data: { file: esm } });
  const cache = createRequire(import.meta.url).cache;
  const dump = () => {
    const loaded = [
      ...(existsSync(esm) ? readFileSync(esm, 'utf8').split('\n') : []),
      ...Object.keys(cache),
      ...nodeInternals(),
    ];
    writeFileSync(`${out}.tmp`, loaded.filter(Boolean).join('\n') + '\n');
    renameSync(`${out}.tmp`, out);
  };
  process.on('SIGUSR2', dump);
  process.on('exit', dump);
}

/** Node's own modules loaded so far, as `node:internal/deps/undici/undici` (fetch's client is one). */
function nodeInternals(): string[] {
  const list = (process as unknown as { moduleLoadList?: string[] }).moduleLoadList ?? [];
  return list.filter((m) => m.startsWith('NativeModule ')).map((m) => `node:${m.slice('NativeModule '.length)}`);
}

/** Whether Node's fetch (undici, with its WebAssembly parser) was loaded. */
export const UNDICI = 'node:internal/deps/undici/undici';

/** The npm packages among loaded modules (URLs or paths): `pg`, `@electric-sql/pglite`, ... */
export function packagesIn(modules: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const m of modules) {
    const path = m.startsWith('file:') ? fileURLToPath(m) : m;
    const at = path.lastIndexOf('/node_modules/');
    if (at < 0) continue;
    const [first, second] = path.slice(at + '/node_modules/'.length).split('/');
    names.add(first!.startsWith('@') ? `${first}/${second}` : first!);
  }
  return names;
}

/** rollgate's own modules among them, relative to dist/src (`cli/main.js`, `hub/db.js`). */
export function ownModulesIn(modules: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const m of modules) {
    const path = m.startsWith('file:') ? fileURLToPath(m) : m;
    const at = path.lastIndexOf('/dist/src/');
    if (at >= 0 && !path.includes('/node_modules/')) out.add(path.slice(at + '/dist/src/'.length));
  }
  return out;
}

/** What the process traced into `file` has loaded by now (it writes the list on SIGUSR2). */
export async function loadedNow(pid: number, file: string): Promise<string[]> {
  rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 200 && !existsSync(file); i++) await sleep(50);
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

/** What the workers of the traced process have loaded, each as it exited, by pid. */
export function workersLoaded(file: string): Map<number, string[]> {
  const dir = dirname(file);
  const prefix = `${basename(file)}.worker-`;
  const out = new Map<number, string[]>();
  for (const name of readdirSync(dir))
    if (name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)))
      out.set(Number(name.slice(prefix.length)), loadedAtExit(join(dir, name)));
  return out;
}

/** What a traced process that has exited had loaded. */
export function loadedAtExit(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}
