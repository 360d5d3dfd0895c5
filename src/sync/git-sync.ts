// Keeps a local object store in step with one branch of the fleet repo. A poll is one ls-refs
// request; a fetch happens only when the branch moved, shallow and single-branch. The commit
// handed out is always complete and readable: a failed or partial fetch leaves the previous one.

import * as fs from 'node:fs';
import { mkdir } from 'node:fs/promises';
import git from 'isomorphic-git';
import type { GitAuth } from './auth.js';
import { SyncError, refusedAccess } from './errors.js';
import { CountingHttpClient } from './http-client.js';
import { lsRemoteRef } from './ls-refs.js';
import { fullRef, RemoteRef, refuseCredentialsInUrl, retrying } from './remote-ref.js';

export { fullRef };
import { formatSize } from '../base/duration.js';
import { redactUrl } from '../base/url.js';
import { shortCommit } from '../base/short-commit.js';
import { withDefaultCas } from '../base/tls-trust.js';

export interface GitSyncOptions {
  url: string;
  /** Branch name (main) or full ref (refs/heads/main, refs/tags/v1). */
  ref: string;
  /** The object store, e.g. /var/lib/rollgate/repo.git */
  gitdir: string;
  auth?: GitAuth;
  timeoutMs?: number;
  idleTimeoutMs?: number;
  /** Attempts per operation, the first included. */
  attempts?: number;
  backoffMs?: number;
  /** Fetch this many commits (1 = shallow). */
  depth?: number;
  /** Send credentials over plain http to a non-loopback host. */
  allowPlainHttpAuth?: boolean;
  /**
   * A file of PEM certificates of CAs to trust for an https server, besides the defaults (Node's
   * roots and NODE_EXTRA_CA_CERTS): for a git server whose certificate a private CA signed.
   */
  caFile?: string;
  /** Bytes one fetch may download (the pack); the default suits a repo of manifests. */
  maxFetchBytes?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface PollResult {
  commit: string;
  /** True when the commit was not in the object store before this poll. */
  fetched: boolean;
  /** HTTP requests this poll made. */
  requests: number;
}

const PIN_PREFIX = 'refs/rollgate/';

/** 64 MiB: a fleet repo holds manifests; artifacts belong at URLs. */
export const DEFAULT_MAX_FETCH_BYTES = 64 * 1024 * 1024;

/** A CA file's certificates; a file that cannot be read or holds none is refused at once, naming it. */
function readCaFile(file: string): string {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new SyncError('auth', `cannot read the CA file ${file}: ${(err as Error).message}`, false);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new SyncError('auth', `the CA file ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, false);
  return pem;
}

export class GitSync {
  private readonly o: Required<Omit<GitSyncOptions, 'auth' | 'allowPlainHttpAuth' | 'maxFetchBytes' | 'caFile'>> & {
    maxFetchBytes: number;
    auth?: GitAuth;
    allowPlainHttpAuth?: boolean;
    caFile?: string;
  };
  /** The CAs trusted for https, when a CA file adds to the defaults; read once, at construction. */
  private readonly ca: string[] | undefined;
  private readonly complete = new Set<string>();
  private remoteSet = false;
  private remoteRef: RemoteRef | undefined;
  constructor(opts: GitSyncOptions) {
    refuseCredentialsInUrl(opts.url);
    this.o = {
      timeoutMs: 60_000,
      idleTimeoutMs: 20_000,
      attempts: 3,
      backoffMs: 1000,
      depth: 1,
      maxFetchBytes: DEFAULT_MAX_FETCH_BYTES,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      ...opts,
    };
    this.ca = opts.caFile === undefined ? undefined : withDefaultCas(readCaFile(opts.caFile));
  }

  get gitdir(): string {
    return this.o.gitdir;
  }

  /** The server's side of the store: ls-refs and the clients every request goes through. */
  private get remote(): RemoteRef {
    return (this.remoteRef ??= new RemoteRef({
      url: this.o.url,
      ref: fullRef(this.o.ref),
      ...(this.o.auth ? { auth: this.o.auth } : {}),
      timeoutMs: this.o.timeoutMs,
      idleTimeoutMs: this.o.idleTimeoutMs,
      attempts: this.o.attempts,
      backoffMs: this.o.backoffMs,
      ...(this.o.allowPlainHttpAuth ? { allowPlainHttpAuth: true } : {}),
      maxResponseBytes: this.o.maxFetchBytes,
      ...(this.ca ? { ca: { certs: this.ca, file: this.o.caFile! } } : {}),
      sleep: this.o.sleep,
    }));
  }

  private client(): Promise<CountingHttpClient> {
    return this.remote.client();
  }

  private async init(): Promise<void> {
    if (!fs.existsSync(`${this.o.gitdir}/HEAD`)) {
      await mkdir(this.o.gitdir, { recursive: true });
      await git.init({ fs, gitdir: this.o.gitdir, bare: true, defaultBranch: 'main' });
      this.remoteSet = false;
    }
    // The URL may change in the config between runs; credentials never go into it. Once per
    // process, not per poll: a gateway's flash should not be written while nothing changes.
    if (this.remoteSet) return;
    await git.addRemote({ fs, gitdir: this.o.gitdir, remote: 'origin', url: this.o.url, force: true });
    this.remoteSet = true;
  }

  private retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return retrying(this.o, what, fn);
  }

  /** True when the commit and its root tree are in the object store. */
  async hasCommit(oid: string): Promise<boolean> {
    // Objects are never removed from the store, so a commit found complete stays complete; an
    // idle poll then costs the request and nothing else.
    if (this.complete.has(oid)) return true;
    try {
      const { commit } = await git.readCommit({ fs, gitdir: this.o.gitdir, oid });
      await git.readTree({ fs, gitdir: this.o.gitdir, oid: commit.tree });
      if (this.complete.size > 64) this.complete.clear();
      this.complete.add(oid);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Asks the server where the ref points; fetches only when that commit is not here yet and
   * `skip` (a commit already refused) does not say to leave it.
   */
  async poll(skip?: (commit: string) => boolean): Promise<PollResult> {
    await this.init();
    const ref = fullRef(this.o.ref);
    const url = redactUrl(this.o.url);
    const head = await this.remote.head();
    const remote = head.commit;
    let requests = head.requests;
    if (skip?.(remote) || (await this.hasCommit(remote))) return { commit: remote, fetched: false, requests };
    try {
      requests += await this.fetchRef(ref, this.o.depth, `fetching ${ref} from ${url}`);
    } catch (err) {
      if (!(err instanceof SyncError) || err.kind !== 'too-large') throw err;
      throw new SyncError(
        'too-large',
        `commit ${shortCommit(remote)} of ${url} is more than ${formatSize(this.o.maxFetchBytes)} to ` +
          'fetch, so it is refused (repo.maxFetchSize). A fleet repo holds manifests: put artifacts at URLs ' +
          '(artifact_path: https://... with artifact_sha256, or artifact_store) rather than in git',
        false,
        remote,
      );
    }
    if (!(await this.hasCommit(remote))) {
      // The branch moved again between the poll and the fetch; the next poll picks it up.
      const got = await git
        .resolveRef({ fs, gitdir: this.o.gitdir, ref: `refs/remotes/origin/${ref.replace(/^refs\/heads\//, '')}` })
        .catch(() => undefined);
      if (got && (await this.hasCommit(got))) return { commit: got, fetched: true, requests };
      throw new SyncError(
        'corrupt',
        `fetched ${ref} from ${url}, but commit ${remote} is not complete in ${this.o.gitdir}`,
        true,
      );
    }
    await this.pin('fetched', remote);
    return { commit: remote, fetched: true, requests };
  }

  /**
   * Fetches the branch's history `depth` commits deep (to prove a new commit descends from the
   * applied one). Bounded by the caller; a failure is an error, not a verdict.
   */
  async deepen(depth: number): Promise<void> {
    await this.init();
    const ref = fullRef(this.o.ref);
    const url = redactUrl(this.o.url);
    await this.fetchRef(ref, depth, `fetching ${depth} commits of ${ref} from ${url}`);
  }

  /** The annotated tags on the server that point at `commit`, with their tag objects fetched. */
  async tagsAt(commit: string): Promise<{ name: string; oid: string }[]> {
    await this.init();
    const url = redactUrl(this.o.url);
    const refs = await this.retrying(`listing the tags of ${url}`, async () => {
      const http = await this.client();
      try {
        return await git.listServerRefs({ http, url: this.o.url, prefix: 'refs/tags/', peelTags: true });
      } catch (err) {
        throw err instanceof SyncError ? err : classifyGitError(err, url, this.o.auth);
      }
    });
    const out: { name: string; oid: string }[] = [];
    for (const r of refs.filter((x) => x.peeled === commit && x.oid !== commit)) {
      const have = await git.readObject({ fs, gitdir: this.o.gitdir, oid: r.oid }).then(
        () => true,
        () => false,
      );
      if (!have) await this.fetchRef(r.ref, 1, `fetching ${r.ref} from ${url}`);
      out.push({ name: r.ref.replace(/^refs\/tags\//, ''), oid: r.oid });
    }
    return out;
  }

  /** One fetch of `ref`, `depth` commits deep, retried as the options say; resolves to the requests made. */
  private async fetchRef(ref: string, depth: number, what: string): Promise<number> {
    let requests = 0;
    await this.retrying(what, async () => {
      const http = await this.client();
      try {
        await git.fetch({
          fs,
          http,
          gitdir: this.o.gitdir,
          url: this.o.url,
          ref,
          remoteRef: ref,
          singleBranch: true,
          depth,
          tags: false,
          remote: 'origin',
        });
      } catch (err) {
        throw err instanceof SyncError ? err : classifyGitError(err, redactUrl(this.o.url), this.o.auth);
      } finally {
        requests += http.requests;
      }
    });
    return requests;
  }

  /**
   * Pushes `commit` (a child of `expected`, in the object store) to the branch, only if the branch is
   * still at `expected`: never forced. 'moved' when the branch is elsewhere now, so the caller reads
   * it again and decides anew; the server's own compare-and-swap covers a move during the push.
   */
  async push(commit: string, expected: string): Promise<'pushed' | 'moved'> {
    await this.init();
    const ref = fullRef(this.o.ref);
    const url = redactUrl(this.o.url);
    const local = `${PIN_PREFIX}push`;
    await git.writeRef({ fs, gitdir: this.o.gitdir, ref: local, value: commit, force: true });
    const http = await this.client();
    try {
      await git.push({
        fs,
        http,
        gitdir: this.o.gitdir,
        url: this.o.url,
        ref: local,
        remoteRef: ref,
        force: false,
        // The update goes from `expected` or not at all: a branch moved back and forth is moved too.
        onPrePush: ({ remoteRef }) => remoteRef.oid === expected,
      });
      return 'pushed';
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 'UserCanceledError' || code === 'PushRejectedError') return 'moved';
      if (code === 'GitPushError') {
        // The server refused the update: because the branch moved meanwhile, or for a reason of its own (a hook).
        const now = await lsRemoteRef(await this.client(), this.o.url, ref).catch(() => undefined);
        if (now !== undefined && now !== expected) return 'moved';
        throw new SyncError(
          'server',
          `the git server refused to update ${ref} of ${url}: ${(err as Error).message}`,
          false,
        );
      }
      const e = classifyGitError(err, url, this.o.auth);
      if (e.kind === 'auth' && /HTTP 403/.test(e.message))
        throw new SyncError(
          'auth',
          `the git server at ${url} refused the push (HTTP 403): the credentials may read but not write, or the ` +
            'server takes no pushes over HTTP (git http-backend: http.receivepack)',
          false,
        );
      throw e;
    }
  }

  /** Keeps a commit in the object store under refs/rollgate/<name> (applied, last-good, ...). */
  async pin(name: string, oid: string): Promise<void> {
    await git.writeRef({ fs, gitdir: this.o.gitdir, ref: `${PIN_PREFIX}${name}`, value: oid, force: true });
  }

  async pinned(name: string): Promise<string | undefined> {
    return git.resolveRef({ fs, gitdir: this.o.gitdir, ref: `${PIN_PREFIX}${name}` }).catch(() => undefined);
  }
}

function redactMessage(msg: string, url: string): string {
  return msg.split(url).join(redactUrl(url));
}

function classifyGitError(err: unknown, url: string, auth: GitAuth | undefined): SyncError {
  // Our HTTP client's own errors may come back wrapped by isomorphic-git.
  for (let c: unknown = err, i = 0; c && i < 5; c = (c as { cause?: unknown }).cause, i++)
    if (c instanceof SyncError) return c;
  const e = err as { code?: string; data?: { statusCode?: number }; message: string };
  const status = e.data?.statusCode;
  if (status === 401 || status === 403) return refusedAccess(url, status, auth);
  if (status === 404) return new SyncError('not-found', `no git repository at ${url} (HTTP 404)`, false);
  if (status !== undefined && status >= 500)
    return new SyncError('server', `the git server failed on ${url} (HTTP ${status})`, true);
  return new SyncError('unreachable', redactMessage(e.message, url), true);
}
