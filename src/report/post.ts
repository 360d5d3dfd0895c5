// One JSON POST to the hub, over node:http(s) so a private CA can be trusted per request. Every
// way it can go wrong ends in a HubError whose kind says what the reporter should do about it.

import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { networkReason } from '../base/net-error.js';

export type HubErrorKind =
  /** Not reached, timed out, or 5xx: try again later. */
  | 'unreachable'
  /** 401/403: the token is wrong; a person has to fix the configuration. */
  | 'refused'
  /** 413: the body is too big; send fewer events at once. */
  | 'too-large'
  /** Another 4xx: the hub will never take this body. */
  | 'rejected';

export class HubError extends Error {
  override name = 'HubError';
  constructor(
    readonly kind: HubErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface PostOptions {
  token: string;
  timeoutMs: number;
  /** PEM certificates to trust; Node's `ca`, so it replaces the defaults (see withDefaultCas). */
  ca?: string | string[];
  /** Aborts the request (the agent stopping). */
  signal?: AbortSignal;
}

const MAX_ANSWER = 1 << 20;

async function readBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_ANSWER) throw new HubError('unreachable', 'the hub answered with more than 1 MiB');
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The hub's own words from an error body (`{ "error": "..." }`), else the HTTP status. */
function hubMessage(status: number, text: string): string {
  try {
    const e = (JSON.parse(text) as { error?: unknown }).error;
    if (typeof e === 'string') return `${status}: ${e}`;
  } catch {
    // not JSON: the status says enough
  }
  return `HTTP ${status}`;
}

export function postJson(url: URL, body: unknown, o: PostOptions): Promise<unknown> {
  const data = Buffer.from(JSON.stringify(body));
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': data.length,
          authorization: `Bearer ${o.token}`,
        },
        timeout: o.timeoutMs,
        ...(o.ca ? { ca: o.ca } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
      },
      (res) => {
        readBody(res).then((text) => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            try {
              resolve(JSON.parse(text));
            } catch {
              reject(new HubError('unreachable', `the hub answered ${status} with a body that is not JSON`, status));
            }
            return;
          }
          const msg = hubMessage(status, text);
          if (status === 401 || status === 403) reject(new HubError('refused', msg, status));
          else if (status === 413) reject(new HubError('too-large', msg, status));
          else if (status >= 400 && status < 500 && status !== 408 && status !== 429)
            reject(new HubError('rejected', msg, status));
          else reject(new HubError('unreachable', msg, status));
        }, reject);
      },
    );
    req.on('timeout', () => req.destroy(new HubError('unreachable', `no answer within ${o.timeoutMs} ms`)));
    req.on('error', (err) =>
      reject(err instanceof HubError ? err : new HubError('unreachable', networkReason(err, url) ?? err.message)),
    );
    req.end(data);
  });
}
