// `rollgate artifacts lock`: for manifests that name artifacts by artifact_name alone and a fleet
// whose artifact_store serves them, fetch each one once, check it is the artifact it is named,
// and record its sha256 in rollgate-artifacts.lock.yaml, which gateways then verify against.

import { createHash } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { writeFileAtomic } from '../base/atomic-write.js';
import { parseSize } from '../base/duration.js';
import { checkTransport } from '../sync/index.js';
import {
  ARTIFACT_LOCK_FILE,
  artifactsToLock,
  DirectorySource,
  formatProblem,
  readArtifactHeader,
} from '../manifest/index.js';
import { EXIT_ERROR, EXIT_OK, type Io } from './io.js';

export interface LockOptions {
  repo: string;
  authTokenFile?: string;
  maxSize: string;
  refresh?: boolean;
}

interface LockEntry {
  sha256: string;
  size: number;
}

const IDLE_MS = 60_000;

/** Streams `url` into a temporary file, hashing it; at most `max` bytes. */
async function fetchArtifact(
  url: string,
  max: number,
  headers: Record<string, string>,
): Promise<{ file: string; sha256: string; size: number; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'rollgate-lock-'));
  const file = join(dir, 'artifact.mender');
  const abort = new AbortController();
  let idle: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(() => abort.abort(new Error(`no data for ${IDLE_MS / 1000} s`)), IDLE_MS);
  };
  arm();
  try {
    checkTransport(new URL(url), headers, false);
    const res = await fetch(url, { headers, signal: abort.signal, redirect: 'follow' });
    if (res.status !== 200 || !res.body)
      throw new Error(
        `HTTP ${res.status}` +
          (res.status === 404
            ? ' (no such artifact in the store)'
            : res.status === 401 || res.status === 403
              ? ' (access refused: --auth-token-file?)'
              : ''),
      );
    const hash = createHash('sha256');
    let size = 0;
    const fh = await open(file, 'w');
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        arm();
        size += chunk.byteLength;
        if (size > max) throw new Error(`larger than ${max} bytes (--max-size)`);
        hash.update(chunk);
        await fh.write(chunk);
      }
    } finally {
      await fh.close();
    }
    return { file, sha256: hash.digest('hex'), size, dir };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    const cause = (err as { cause?: Error }).cause;
    throw new Error(
      abort.signal.aborted ? (abort.signal.reason as Error).message : (cause?.message ?? (err as Error).message),
    );
  } finally {
    clearTimeout(idle);
  }
}

async function readLock(path: string): Promise<Record<string, LockEntry>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return {};
  }
  const doc = parse(text) as { artifacts?: Record<string, LockEntry> } | null;
  return doc?.artifacts ?? {};
}

export async function runArtifactsLock(o: LockOptions, io: Io): Promise<number> {
  const root = resolve(o.repo);
  const needs = await artifactsToLock(new DirectorySource(root));
  if (needs.problems.length) {
    io.err('error: the fleet repo cannot be read; nothing was locked\n');
    for (const p of needs.problems) io.err(`  ${formatProblem(p)}\n`);
    return EXIT_ERROR;
  }
  const lockPath = join(root, ARTIFACT_LOCK_FILE);
  const old = await readLock(lockPath);
  if (needs.names.length > 0 && !needs.store) {
    io.err(
      `error: manifests name ${needs.names.join(', ')} by artifact_name, the repo's artifact directories do not ` +
        `hold them, and rollgate.yaml sets no artifact_store to fetch them from\n`,
    );
    return EXIT_ERROR;
  }
  const headers: Record<string, string> = o.authTokenFile
    ? { authorization: `Bearer ${(await readFile(o.authTokenFile, 'utf8')).trim()}` }
    : {};
  const max = parseSize(o.maxSize, '--max-size');
  const next: Record<string, LockEntry> = {};
  let failed = 0;
  for (const name of needs.names) {
    if (old[name] && !o.refresh) {
      next[name] = old[name];
      io.out(`  = ${name} (locked already)\n`);
      continue;
    }
    const url = needs.store!.replaceAll('{artifact_name}', encodeURIComponent(name));
    try {
      const got = await fetchArtifact(url, max, headers);
      try {
        const fh = await open(got.file, 'r');
        const head = Buffer.alloc(Math.min(got.size, 4 * 1024 * 1024));
        await fh.read(head, 0, head.length, 0);
        await fh.close();
        const header = await readArtifactHeader(head);
        if (header.name !== name) throw new Error(`the store's file is artifact "${header.name}", not "${name}"`);
      } finally {
        await rm(got.dir, { recursive: true, force: true });
      }
      next[name] = { sha256: got.sha256, size: got.size };
      io.out(`  + ${name}  sha256 ${got.sha256}  ${got.size} bytes\n`);
    } catch (err) {
      failed++;
      io.err(`  ✗ ${name}: ${url.replace(/\/\/[^@/]*@/, '//')}: ${(err as Error).message}\n`);
    }
  }
  if (failed > 0) {
    io.err(
      `error: ${failed} artifact${failed === 1 ? '' : 's'} could not be locked; ${ARTIFACT_LOCK_FILE} was not ` +
        `changed\n`,
    );
    return EXIT_ERROR;
  }
  const body =
    `# Written by "rollgate artifacts lock": the sha256 of each artifact fetched from the fleet's\n# ` +
    `artifact_store. Gateways refuse an artifact whose bytes do not match. Commit this ` +
    `file.\n${stringify({ artifacts: next })}`;
  await writeFileAtomic(lockPath, body);
  io.out(
    `OK: ${Object.keys(next).length} artifact${Object.keys(next).length === 1 ? '' : 's'} locked ` +
      `in ${ARTIFACT_LOCK_FILE}` +
      (needs.inRepo.length ? ` (${needs.inRepo.length} found in the repo need no entry)` : '') +
      '.\n',
  );
  return EXIT_OK;
}
