// The hub's HTTP plumbing: bounded bodies, JSON and HTML answers with their headers, tokens from
// a bearer header, and the errors that carry a status. The page's cookies are in ./session.ts.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, parseJson } from './params.js';

export { HttpError } from './params.js';

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

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

export function sendHtml(res: ServerResponse, body: string, status = 200, cookies: string[] = []): void {
  res.writeHead(status, {
    ...(cookies.length ? { 'set-cookie': cookies } : {}),
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy':
      // base-uri does not fall back to default-src: without it a <base> would move every relative link.
      "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; " +
      "base-uri 'none'",
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

export function redirect(res: ServerResponse, to: string, cookies: string[] = []): void {
  res.writeHead(303, { location: to, ...(cookies.length ? { 'set-cookie': cookies } : {}) });
  res.end();
}

/** The body as text, at most `max` bytes (413 past it); bytes that are not UTF-8 are a 400. */
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
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new HttpError(400, 'the body is not UTF-8 text');
  }
}

/** A JSON body (Content-Type: application/json), bounded in bytes and in depth, with its text. */
export async function jsonDocument(req: IncomingMessage, max: number): Promise<{ doc: unknown; text: string }> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    req.resume();
    throw new HttpError(415, 'send Content-Type: application/json');
  }
  const text = await readBody(req, max);
  return { doc: parseJson(text), text };
}

export async function jsonBody(req: IncomingMessage, max: number): Promise<unknown> {
  return (await jsonDocument(req, max)).doc;
}
