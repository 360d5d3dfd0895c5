// One component's directories in the state directory, and the work directory an interface sees
// (the Update Module v3 file API): `version`, `current_*`, `header/`, `tmp/`, the `stream-next`
// named pipe and `streams/` during Download, `files/` from ArtifactInstall on.

import { execFile } from 'node:child_process';
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { close, open } from 'node:fs';
import { copyFile, link, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const openAsync = promisify(open);
const closeAsync = promisify(close);
const execFileAsync = promisify(execFile);

/** Directory name for a component key: readable, and never a path. */
export function dirNameOf(key: string): string {
  const safe = key.replace(/[^A-Za-z0-9._-]/g, '_');
  if (safe === key && safe !== '.' && safe !== '..') return safe;
  return `${safe.replace(/^\.+/, '_')}-${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
}

export interface ComponentDirs {
  root: string;
  record: string;
  work: string;
  payload: string;
}

export function componentDirs(componentsDir: string, key: string): ComponentDirs {
  const root = join(componentsDir, dirNameOf(key));
  return { root, record: join(root, 'state.json'), work: join(root, 'work'), payload: join(root, 'payload') };
}

export interface WorkDirInfo {
  /** The protocol version: 3 for Update Modules (modules/v3), 1 for Orchestrator interfaces. */
  version: string;
  artifactName: string;
  artifactGroup: string;
  deviceType: string;
}

/** The files every state finds; `tmp/` exists and is empty. */
export async function prepareWorkDir(work: string, info: WorkDirInfo, fresh: boolean): Promise<void> {
  if (fresh) await rm(work, { recursive: true, force: true });
  await mkdir(join(work, 'tmp'), { recursive: true });
  await writeFile(join(work, 'version'), `${info.version}\n`);
  await writeFile(join(work, 'current_artifact_name'), `${info.artifactName}\n`);
  await writeFile(join(work, 'current_artifact_group'), `${info.artifactGroup}\n`);
  await writeFile(join(work, 'current_device_type'), `${info.deviceType}\n`);
}

/** Opens a FIFO for writing once a reader has it open; undefined if `gone()` first. */
async function openWhenRead(path: string, gone: () => boolean): Promise<number | undefined> {
  for (;;) {
    try {
      const probe = await openAsync(path, constants.O_WRONLY | constants.O_NONBLOCK);
      // A reader is there, so a blocking open returns at once; blocking writes keep it simple.
      const fd = await openAsync(path, constants.O_WRONLY);
      await closeAsync(probe);
      return fd;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err;
    }
    if (gone()) return undefined;
    await sleep(10);
  }
}

export interface StreamItem {
  /** The name under `streams/` and `files/`. */
  name: string;
  path: string;
  /** rollgate's own copy (an unpacked payload), moved rather than copied into `files/`. */
  owned: boolean;
}

/** Named pipes for Download: `stream-next` and one per payload under `streams/`. */
export async function makeStreams(work: string, items: StreamItem[]): Promise<void> {
  await mkdir(join(work, 'streams'), { recursive: true });
  await execFileAsync(
    'mkfifo',
    ['-m', '600', join(work, 'stream-next'), ...items.map((i) => join(work, 'streams', i.name))],
    { timeout: 10_000 },
  );
}

/**
 * Feeds the payloads through `stream-next` while Download runs: one line naming the next
 * stream per read, then the stream itself, then an empty read for the end. Returns the names
 * the interface consumed; none when it never opened `stream-next`.
 */
export async function feedStreams(
  work: string,
  items: StreamItem[],
  exited: Promise<void>,
  withSizes = false,
): Promise<Set<string>> {
  let over = false;
  void exited.then(() => (over = true));
  const gone = () => over;
  const consumed = new Set<string>();
  const next = join(work, 'stream-next');
  for (const item of items) {
    const fd = await openWhenRead(next, gone);
    if (fd === undefined) return consumed;
    const size = withSizes ? ` ${(await stat(item.path)).size}` : '';
    await pipeline([Buffer.from(`streams/${item.name}${size}\n`)], createWriteStream('', { fd }));
    const sfd = await openWhenRead(join(work, 'streams', item.name), gone);
    if (sfd === undefined) return consumed;
    await pipeline(createReadStream(item.path), createWriteStream('', { fd: sfd }));
    consumed.add(item.name);
  }
  const end = await openWhenRead(next, gone);
  if (end !== undefined) await closeAsync(end);
  return consumed;
}

/** After Download: the pipes go, and what the interface did not stream is under `files/`. */
export async function settleFiles(work: string, items: StreamItem[], consumed: Set<string>): Promise<void> {
  await rm(join(work, 'stream-next'), { force: true });
  await rm(join(work, 'streams'), { recursive: true, force: true });
  const files = join(work, 'files');
  await mkdir(files, { recursive: true });
  for (const item of items) {
    if (consumed.has(item.name)) continue;
    const dest = join(files, item.name);
    await rm(dest, { force: true });
    // The whole artifact stays in the cache: a hard link costs nothing, a copy if it must.
    if (item.owned) await rename(item.path, dest);
    else await link(item.path, dest).catch(() => copyFile(item.path, dest));
  }
}

export async function isEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch {
    return true;
  }
}
