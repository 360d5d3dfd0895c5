// Where one ref of a git server points, asked with one ls-refs request over node:http, retried as
// every request to the server is. Nothing here loads isomorphic-git: the agent's resident part
// polls with this alone, and leaves fetching (./git-sync.ts) to the worker that applies.

import { authHeaders, type GitAuth } from './auth.js';
import { SyncError } from './errors.js';
import { CountingHttpClient } from './http-client.js';
import { lsRemoteRef } from './ls-refs.js';
import { CREDENTIALS_IN_URL, hasCredentials, redactUrl } from '../base/url.js';

export interface RemoteRefOptions {
  url: string;
  /** A full ref: refs/heads/main. */
  ref: string;
  auth?: GitAuth;
  timeoutMs: number;
  idleTimeoutMs: number;
  attempts: number;
  backoffMs: number;
  allowPlainHttpAuth?: boolean;
  maxResponseBytes: number;
  /** The CAs trusted for https (the defaults with a CA file's); absent: the defaults. */
  ca?: { certs: string[]; file: string };
  sleep: (ms: number) => Promise<void>;
}

export function fullRef(ref: string): string {
  return ref.startsWith('refs/') ? ref : `refs/heads/${ref}`;
}

/** A URL with credentials in it is refused: they would land in logs and the store's config. */
export function refuseCredentialsInUrl(url: string): void {
  if (hasCredentials(url))
    throw new SyncError(
      'auth',
      `the repository URL ${redactUrl(url)} ${CREDENTIALS_IN_URL}: put the token in a file ` +
        '(repo.tokenFile, --auth-token-file) or "user:password" in one (repo.basicAuthFile, --auth-basic-file)',
      false,
    );
}

function redactMessage(msg: string, url: string): string {
  return msg.split(url).join(redactUrl(url));
}

/** Runs `fn` up to `attempts` times while it fails retryably, backing off; the error names `what`. */
export async function retrying<T>(
  o: Pick<RemoteRefOptions, 'attempts' | 'backoffMs' | 'sleep' | 'url'>,
  what: string,
  fn: () => Promise<T>,
): Promise<T> {
  let last: unknown;
  for (let attempt = 1; attempt <= o.attempts; attempt++) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      const retryable = err instanceof SyncError ? err.retryable : true;
      if (!retryable || attempt === o.attempts) break;
      const delay = o.backoffMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2);
      await o.sleep(delay);
    }
  }
  if (last instanceof SyncError) throw new SyncError(last.kind, `${what}: ${last.message}`, last.retryable);
  throw new SyncError('unreachable', `${what}: ${redactMessage((last as Error).message, o.url)}`, true);
}

export class RemoteRef {
  constructor(private readonly o: RemoteRefOptions) {}

  /** A client for one operation: its requests are counted, its credentials and limits set. */
  async client(): Promise<CountingHttpClient> {
    const o = this.o;
    return new CountingHttpClient({
      timeoutMs: o.timeoutMs,
      idleTimeoutMs: o.idleTimeoutMs,
      headers: await authHeaders(o.auth),
      userAgent: 'git/rollgate',
      ...(o.allowPlainHttpAuth ? { allowPlainHttpAuth: true } : {}),
      maxResponseBytes: o.maxResponseBytes,
      ...(o.auth ? { auth: o.auth } : {}),
      ...(o.ca ? { ca: o.ca.certs, caFile: o.ca.file } : {}),
    });
  }

  /** Where the ref points on the server (SyncError not-found when it has no such ref), and the requests it took. */
  async head(): Promise<{ commit: string; requests: number }> {
    const url = redactUrl(this.o.url);
    let requests = 0;
    const remote = await retrying(this.o, `polling ${url} for ${this.o.ref}`, async () => {
      const http = await this.client();
      try {
        return await lsRemoteRef(http, this.o.url, this.o.ref);
      } finally {
        requests += http.requests;
      }
    });
    if (remote === null) throw new SyncError('not-found', `${url} has no ${this.o.ref}`, false);
    return { commit: remote, requests };
  }
}
