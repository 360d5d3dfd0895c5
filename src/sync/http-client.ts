// The HTTP client isomorphic-git and the poll use, on node:http(s): every request has a deadline and an idle
// timeout, carries the auth headers, and is counted (a poll must cost one request).

import { isLoopback } from '../base/loopback.js';
import { networkCode, networkReason, untrustedCertificate } from '../base/net-error.js';
import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';
import { redactUrl } from '../base/url.js';
import { SyncError } from './errors.js';
import type { GitAuth } from './auth.js';
import { formatSize } from '../base/duration.js';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpOptions {
  /** Whole request, headers to last byte. */
  timeoutMs: number;
  /** Longest pause between two chunks of the response. */
  idleTimeoutMs: number;
  headers: Record<string, string>;
  userAgent: string;
  /** Send credentials over plain http to a host other than loopback (off: refused). */
  allowPlainHttpAuth?: boolean;
  /** Bytes one response may carry; more is cut off while streaming, with a clear error. */
  maxResponseBytes?: number;
  /** Where the credentials in `headers` came from, for an error that says which file to check. */
  auth?: GitAuth;
  /** The CAs an https server's certificate may come from: the defaults and a CA file's (../base/tls-trust.ts). */
  ca?: string[];
  /** The CA file they came from, for an error that says which file to check. */
  caFile?: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

export class CountingHttpClient implements HttpClient {
  requests = 0;
  private finalUrl: string | undefined;
  constructor(private readonly opts: HttpOptions) {}

  get auth(): GitAuth | undefined {
    return this.opts.auth;
  }

  /**
   * One request over node:http(s), following redirects by hand: a POST is sent again with its body,
   * and credentials are not sent on to another origin. node:http rather than fetch: undici and its
   * WebAssembly parser cost the resident agent about 9 MB for the one small request a poll makes.
   */
  private async following(
    req: GitHttpRequest,
    body: Buffer | undefined,
    signal: AbortSignal,
  ): Promise<IncomingMessage> {
    let url = new URL(req.url);
    const method = req.method ?? 'GET';
    let headers: Record<string, string> = {
      ...(req.headers ?? {}),
      ...this.opts.headers,
      'user-agent': this.opts.userAgent,
    };
    const origin = url.origin;
    for (let hop = 0; ; hop++) {
      checkTransport(url, headers, this.opts.allowPlainHttpAuth);
      const res = await send(url, method, headers, body, signal, this.opts.ca);
      const location = res.headers.location;
      if (!REDIRECTS.has(res.statusCode ?? 0) || !location) {
        this.finalUrl = url.href;
        return res;
      }
      res.destroy();
      if (hop >= MAX_REDIRECTS)
        throw new SyncError('protocol', `more than ${MAX_REDIRECTS} redirects from ${redactUrl(req.url)}`, false);
      // As git itself (CURL_REDIR_POST_ALL): a POST stays a POST, with its body, whatever the status.
      url = new URL(location, url);
      if (url.origin !== origin)
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
    }
  }

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
    let res: IncomingMessage;
    try {
      res = await this.following(req, body, ctl.signal);
    } catch (err) {
      done();
      throw toSyncError(err, ctl.signal, req.url, this.opts.caFile);
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers))
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    return {
      url: this.finalUrl || req.url,
      method: req.method ?? 'GET',
      statusCode: res.statusCode ?? 0,
      statusMessage: res.statusMessage ?? '',
      headers,
      body: responseChunks(res, req.url, ctl, this.opts.maxResponseBytes, touch, done),
    };
  }
}

/**
 * A response's body, chunk by chunk: each chunk restarts the idle timeout, more than `max` bytes
 * fail it, and its end (or failure) destroys the response and clears the request's timers.
 *
 * At module level on purpose, not inside `request`: a generator function declared there is a new
 * closure at every call, with a map of its own for its generator objects. Maps are not in V8's
 * young generation, and a map points back at its function, so the whole scope of `request` (the
 * response, its socket, the parser) survived every scavenge and was promoted, to go only at the
 * next full collection: about 10 KB of old-generation garbage a poll, 1.7 KB with it here
 * (BENCHMARKS.md, "Flat over a long run").
 */
async function* responseChunks(
  res: IncomingMessage,
  url: string,
  ctl: AbortController,
  max: number | undefined,
  touch: () => void,
  done: () => void,
): AsyncGenerator<Uint8Array> {
  const signal = ctl.signal;
  let bytes = 0;
  try {
    for await (const c of res as AsyncIterable<Buffer>) {
      touch();
      bytes += c.byteLength;
      if (max !== undefined && bytes > max) {
        const e = new SyncError('too-large', `${redactUrl(url)} sent more than ${formatSize(max)}`, false);
        ctl.abort(e);
        throw e;
      }
      yield c;
    }
    // An aborted response ends its stream early rather than failing it: say why it ended.
    if (signal.aborted) throw signal.reason;
    if (!res.complete) throw new SyncError('unreachable', `${redactUrl(url)} closed the connection early`, true);
  } catch (err) {
    throw toSyncError(err, signal, url);
  } finally {
    res.destroy();
    done();
  }
}

/** Sends one request; resolves with the response once its headers are in. */
function send(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  signal: AbortSignal,
  ca: string[] | undefined,
): Promise<IncomingMessage> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        headers: body ? { ...headers, 'content-length': String(body.length) } : headers,
        signal,
        // A fresh connection per request, as the poll's one request a minute wants: no idle sockets kept.
        agent: false,
        ...(ca && url.protocol === 'https:' ? { ca } : {}),
      },
      resolve,
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Credentials go over TLS, or to loopback, unless explicitly allowed. */
export function checkTransport(url: URL, headers: Record<string, string>, allow: boolean | undefined): void {
  if (allow || url.protocol !== 'http:' || isLoopback(url.hostname)) return;
  if (!Object.keys(headers).some((k) => k.toLowerCase() === 'authorization')) return;
  throw new SyncError(
    'auth',
    `refusing to send credentials to ${url.host} over plain http, where anyone on the path can read them: ` +
      'use https, or allow it on purpose with repo.allowPlainHttpAuth (--allow-plain-http-auth)',
    false,
  );
}

function toSyncError(err: unknown, signal: AbortSignal, url: string, caFile?: string): SyncError {
  if (signal.aborted && signal.reason instanceof SyncError) return signal.reason;
  if (err instanceof SyncError) return err;
  if (untrustedCertificate(err))
    // Trying again cannot help: the trust is configuration.
    return new SyncError(
      'unreachable',
      `${redactUrl(url)}: the server's TLS certificate is signed by no CA this machine trusts (${networkCode(err)})` +
        (caFile
          ? `; ${caFile} does not hold the CA that signed it`
          : "; if it comes from a private CA, give that CA's certificate (PEM) as the repository's CA file " +
            "(the agent's repo.caFile, --repo-ca-file of the commands that read or push the fleet repo, " +
            "the hub's --repo-ca-file and --promote-ca-file)"),
      false,
    );
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const detail = networkReason(err, new URL(url)) ?? cause?.code ?? cause?.message ?? (err as Error).message;
  return new SyncError('unreachable', `cannot reach ${redactUrl(url)}: ${detail}`, true);
}
