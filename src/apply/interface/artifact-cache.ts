// The artifact cache in the state directory: artifacts by sha256, verified before anyone uses
// them, bounded in size (least recently used go first). Downloads by URL resume where an
// interrupted one stopped, with HTTP range requests.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, truncate, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeError, writeFileAtomic } from '../../base/atomic-write.js';
import type { Log } from '../../base/log.js';
import { RefusedError } from '../applier.js';

export class DownloadError extends Error {
  override name = 'DownloadError';
  constructor(
    message: string,
    /** Worth another attempt (connection cut, server error), unlike a 404 or a wrong checksum. */
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export interface DownloadOptions {
  attempts: number;
  backoffMs: number;
  /** No byte for this long aborts the attempt (the next one resumes). */
  idleTimeoutMs: number;
}

export const DEFAULT_DOWNLOAD: DownloadOptions = { attempts: 5, backoffMs: 1000, idleTimeoutMs: 60_000 };

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** The URL without credentials or query, for messages and logs. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

export class ArtifactCache {
  /** Artifacts in use by the transaction in flight; never evicted. */
  private readonly pinned = new Set<string>();
  /** Components sharing an artifact share one fetch. */
  private readonly inflight = new Map<string, Promise<string>>();

  private once(sha256: string, fetch: () => Promise<string>): Promise<string> {
    let p = this.inflight.get(sha256);
    if (!p) {
      p = fetch().finally(() => this.inflight.delete(sha256));
      this.inflight.set(sha256, p);
    }
    return p;
  }

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
    private readonly log: Log,
    private readonly download: DownloadOptions = DEFAULT_DOWNLOAD,
  ) {}

  pathOf(sha256: string): string {
    return join(this.dir, `${sha256}.mender`);
  }

  private async hit(sha256: string): Promise<string | undefined> {
    const p = this.pathOf(sha256);
    try {
      await stat(p);
    } catch {
      return undefined;
    }
    // Checked on every use: an interface may have written to a hard link of it.
    if ((await sha256File(p)) !== sha256) {
      this.log.warn({ artifact: p }, `cached artifact ${p} no longer matches its sha256; fetching it again`);
      await rm(p, { force: true });
      return undefined;
    }
    const now = new Date();
    await utimes(p, now, now); // recently used
    this.pinned.add(sha256);
    return p;
  }

  /** An artifact read from the fleet repo's git objects; `expected` checked when the manifest gives it. */
  async fromBytes(bytes: Uint8Array, what: string, expected?: string): Promise<{ path: string; sha256: string }> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (expected !== undefined && expected !== sha256)
      throw new RefusedError('invalid', `${what} has sha256 ${sha256}, but the manifest says ${expected}`);
    const path = await this.once(sha256, async () => {
      const cached = await this.hit(sha256);
      if (cached) return cached;
      await mkdir(this.dir, { recursive: true });
      await writeFileAtomic(this.pathOf(sha256), bytes);
      this.pinned.add(sha256);
      await this.evict();
      return this.pathOf(sha256);
    });
    return { path, sha256 };
  }

  /** Downloads `url` unless cached, resuming a partial download, and verifies it against `sha256`. */
  fromUrl(url: string, sha256: string): Promise<string> {
    return this.once(sha256, () => this.fetchUrl(url, sha256));
  }

  private async fetchUrl(url: string, sha256: string): Promise<string> {
    const cached = await this.hit(sha256);
    if (cached) return cached;
    await mkdir(this.dir, { recursive: true });
    const part = join(this.dir, `${sha256}.part`);
    const shown = displayUrl(url);
    let lastError: DownloadError | undefined;
    for (let attempt = 1; attempt <= this.download.attempts; attempt++) {
      if (attempt > 1) await sleep(this.download.backoffMs * 2 ** (attempt - 2));
      try {
        await this.fetchInto(url, part);
      } catch (err) {
        lastError = err instanceof DownloadError ? err : new DownloadError(`${shown}: ${(err as Error).message}`, true);
        this.log.warn(
          { url: shown, attempt, err: lastError.message },
          `download of ${shown} failed (attempt ${attempt} of ${this.download.attempts}): ${lastError.message}`,
        );
        if (!lastError.retryable) break;
        continue;
      }
      const actual = await sha256File(part);
      if (actual !== sha256) {
        await rm(part, { force: true });
        throw new RefusedError(
          'invalid',
          `${shown} has sha256 ${actual}, but the manifest says ${sha256}; nothing was installed, and the ` +
            'commit is refused (fix the sha256, e.g. with "rollgate artifacts lock", or the artifact, and push)',
        );
      }
      await rename(part, this.pathOf(sha256));
      this.pinned.add(sha256);
      await this.evict();
      return this.pathOf(sha256);
    }
    throw lastError ?? new DownloadError(`${shown}: no attempt made`, false);
  }

  private async fetchInto(url: string, part: string): Promise<void> {
    const shown = displayUrl(url);
    const have = await sizeOf(part);
    const abort = new AbortController();
    let idle: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(
        () => abort.abort(new Error(`no data for ${this.download.idleTimeoutMs} ms`)),
        this.download.idleTimeoutMs,
      );
    };
    arm();
    try {
      const res = await fetch(url, {
        headers: have > 0 ? { Range: `bytes=${have}-` } : {},
        signal: abort.signal,
        redirect: 'follow',
      });
      if (res.status === 416 && have > 0) {
        // The part is complete already (or the server's copy changed): the checksum decides.
        await res.body?.cancel();
        return;
      }
      if (res.status === 404 || res.status === 410)
        throw new DownloadError(`${shown} does not exist (HTTP ${res.status})`, false);
      if (res.status === 401 || res.status === 403)
        throw new DownloadError(`${shown} refused access (HTTP ${res.status})`, false);
      if (res.status !== 200 && res.status !== 206)
        throw new DownloadError(`${shown} answered HTTP ${res.status}`, res.status >= 500 || res.status === 429);
      let append = false;
      if (res.status === 206) {
        const m = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
        append = m !== null && Number(m[1]) === have;
        if (!append) {
          await res.body?.cancel();
          await truncate(part, 0);
          throw new DownloadError(`${shown} answered a range that does not continue the partial download`, true);
        }
        this.log.info({ url: shown, from: have }, `resuming the download of ${shown} at byte ${have}`);
      }
      if (!res.body) throw new DownloadError(`${shown} answered no body`, true);
      // Every chunk is on disk before the next is read: a cut connection keeps all it delivered.
      const fh = await open(part, append ? 'a' : 'w');
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          arm();
          await fh.write(chunk);
        }
      } finally {
        await fh.close();
      }
    } catch (err) {
      if (err instanceof DownloadError) throw err;
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw writeError(part, err);
      const cause = (err as { cause?: Error }).cause;
      const why = abort.signal.aborted
        ? (abort.signal.reason as Error).message
        : (cause?.message ?? (err as Error).message);
      throw new DownloadError(`${shown}: ${why}`, true);
    } finally {
      clearTimeout(idle);
    }
  }

  /** Drops least recently used artifacts until the cache fits; pinned ones stay. */
  async evict(): Promise<void> {
    let entries: { name: string; size: number; used: number }[] = [];
    try {
      for (const name of await readdir(this.dir)) {
        if (!name.endsWith('.mender')) continue;
        const s = await stat(join(this.dir, name));
        entries.push({ name, size: s.size, used: s.mtimeMs });
      }
    } catch {
      return;
    }
    let total = entries.reduce((n, e) => n + e.size, 0);
    entries = entries.sort((a, b) => a.used - b.used);
    for (const e of entries) {
      if (total <= this.maxBytes) break;
      if (this.pinned.has(e.name.slice(0, -'.mender'.length))) continue;
      await rm(join(this.dir, e.name), { force: true });
      total -= e.size;
      this.log.info(
        { artifact: e.name, bytes: e.size },
        `artifact cache over ${this.maxBytes} bytes: dropped ${e.name}`,
      );
    }
  }

  /** Ends a transaction: its artifacts may be evicted from now on. */
  unpinAll(): void {
    this.pinned.clear();
  }
}
