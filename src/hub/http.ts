// The hub's HTTP plumbing: bounded bodies, JSON and HTML answers with their headers, tokens from
// a bearer header or the page's cookie, and the errors that carry a status.

import type { IncomingMessage, ServerResponse } from 'node:http';

export const COOKIE = 'rollgate_hub';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function cookieToken(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, v] = part.trim().split('=');
    if (k === COOKIE && v) return decodeURIComponent(v);
  }
  return undefined;
}

export function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  const m = h ? /^Bearer\s+(\S+)$/i.exec(h) : null;
  return m ? m[1] : undefined;
}

/** Errors that mean the database is out of reach (not that a query is wrong). */
export function databaseDown(err: unknown): boolean {
  const code = String((err as { code?: unknown }).code);
  return (
    ['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(code) ||
    /^(57P0[1-3]|08...)$/.test(code) ||
    /Connection terminated|timeout exceeded when trying to connect/i.test((err as Error).message ?? '')
  );
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

export function html(res: ServerResponse, body: string, status = 200): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy':
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

export function redirect(res: ServerResponse, to: string, cookie?: string): void {
  res.writeHead(303, { location: to, ...(cookie ? { 'set-cookie': cookie } : {}) });
  res.end();
}

export async function readBody(req: IncomingMessage, max: number): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > max) {
    req.resume();
    throw new HttpError(413, `the body is ${declared} bytes; the hub takes at most ${max}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > max) {
      req.resume();
      throw new HttpError(413, `the body is over ${max} bytes, the most the hub takes`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function jsonBody(req: IncomingMessage, max: number): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, 'send Content-Type: application/json');
  const text = await readBody(req, max);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `the body is not JSON: ${(err as Error).message}`);
  }
}
