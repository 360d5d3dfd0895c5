// The HTTP client isomorphic-git uses, on Node's fetch: every request has a deadline and an idle
// timeout, carries the auth headers, and is counted (a poll must cost one request).

import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';
import { SyncError, redactUrl } from './errors.js';

export interface HttpOptions {
  /** Whole request, headers to last byte. */
  timeoutMs: number;
  /** Longest pause between two chunks of the response. */
  idleTimeoutMs: number;
  headers: Record<string, string>;
  userAgent: string;
}

export class CountingHttpClient implements HttpClient {
  requests = 0;
  constructor(private readonly opts: HttpOptions) {}

  async request(req: GitHttpRequest): Promise<GitHttpResponse> {
    this.requests++;
    const ctl = new AbortController();
    const deadline = setTimeout(
      () =>
        ctl.abort(
          new SyncError('timeout', `request to ${redactUrl(req.url)} took longer than ${this.opts.timeoutMs} ms`, true),
        ),
      this.opts.timeoutMs,
    );
    let idle: NodeJS.Timeout | undefined;
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(
        () =>
          ctl.abort(
            new SyncError('timeout', `no data from ${redactUrl(req.url)} for ${this.opts.idleTimeoutMs} ms`, true),
          ),
        this.opts.idleTimeoutMs,
      );
    };
    const done = () => {
      clearTimeout(deadline);
      clearTimeout(idle);
    };
    touch();
    let body: Buffer | undefined;
    if (req.body) {
      const chunks: Uint8Array[] = [];
      for await (const c of req.body as AsyncIterable<Uint8Array>) chunks.push(c);
      body = Buffer.concat(chunks);
    }
    let res: Response;
    try {
      res = await fetch(req.url, {
        method: req.method ?? 'GET',
        headers: { ...(req.headers ?? {}), ...this.opts.headers, 'user-agent': this.opts.userAgent },
        ...(body ? { body } : {}),
        signal: ctl.signal,
        redirect: 'follow',
      });
    } catch (err) {
      done();
      throw toSyncError(err, ctl.signal, req.url);
    }
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => (headers[k] = v));
    const stream = res.body;
    const signal = ctl.signal;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      try {
        if (!stream) return;
        for await (const c of stream as unknown as AsyncIterable<Uint8Array>) {
          touch();
          yield c;
        }
      } catch (err) {
        throw toSyncError(err, signal, req.url);
      } finally {
        done();
      }
    }
    return {
      url: res.url || req.url,
      method: req.method ?? 'GET',
      statusCode: res.status,
      statusMessage: res.statusText,
      headers,
      body: chunks(),
    };
  }
}

function toSyncError(err: unknown, signal: AbortSignal, url: string): SyncError {
  if (signal.aborted && signal.reason instanceof SyncError) return signal.reason;
  if (err instanceof SyncError) return err;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message ?? (err as Error).message;
  return new SyncError('unreachable', `cannot reach ${redactUrl(url)}: ${detail}`, true);
}
