// One small request per poll: a stateless protocol v2 `ls-refs` for exactly one ref, posted
// without the capability round trip. Servers without v2 get the v0 ref advertisement instead.

import { redactUrl } from '../base/url.js';
import { SyncError, refusedAccess } from './errors.js';
import type { CountingHttpClient } from './http-client.js';

function pkt(line: string): Buffer {
  const data = Buffer.from(line, 'utf8');
  return Buffer.concat([Buffer.from((data.length + 4).toString(16).padStart(4, '0')), data]);
}

/** Splits a pkt-line stream into payload lines; flush/delim packets become null. */
export function parsePktLines(buf: Buffer): (string | null)[] {
  const out: (string | null)[] = [];
  let i = 0;
  while (i + 4 <= buf.length) {
    const len = parseInt(buf.subarray(i, i + 4).toString('ascii'), 16);
    if (Number.isNaN(len)) throw new SyncError('protocol', 'malformed pkt-line in the server response', false);
    if (len < 4) {
      out.push(null);
      i += 4;
      continue;
    }
    if (i + len > buf.length) throw new SyncError('protocol', 'truncated pkt-line in the server response', true);
    out.push(
      buf
        .subarray(i + 4, i + len)
        .toString('utf8')
        .replace(/\n$/, ''),
    );
    i += len;
  }
  return out;
}

/**
 * One buffer as a request body. At module level, as every generator function of the poll's path: one
 * declared inside `lsRemoteRef` would keep the poll's scope from young-generation collection (see
 * `responseChunks` in ./http-client.ts).
 */
async function* once(b: Buffer): AsyncGenerator<Uint8Array> {
  yield b;
}

async function readAll(body: AsyncIterableIterator<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const c of body) chunks.push(c);
  return Buffer.concat(chunks);
}

function checkStatus(status: number, url: string, http: CountingHttpClient): void {
  if (status === 401 || status === 403) throw refusedAccess(url, status, http.auth);
  if (status === 404) throw new SyncError('not-found', `no git repository at ${redactUrl(url)} (HTTP 404)`, false);
  if (status >= 500) throw new SyncError('server', `the git server failed on ${redactUrl(url)} (HTTP ${status})`, true);
  if (status !== 200) throw new SyncError('protocol', `unexpected HTTP ${status} from ${redactUrl(url)}`, false);
}

/** The commit id of `ref` (e.g. refs/heads/main) on the server, or null when it does not exist. */
export async function lsRemoteRef(http: CountingHttpClient, url: string, ref: string): Promise<string | null> {
  const base = url.replace(/\/+$/, '');
  const body = Buffer.concat([
    pkt('command=ls-refs\n'),
    pkt('agent=rollgate\n'),
    Buffer.from('0001'),
    pkt(`ref-prefix ${ref}\n`),
    Buffer.from('0000'),
  ]);
  const res = await http.request({
    url: `${base}/git-upload-pack`,
    method: 'POST',
    headers: {
      'content-type': 'application/x-git-upload-pack-request',
      accept: 'application/x-git-upload-pack-result',
      'git-protocol': 'version=2',
    },
    body: once(body),
  });
  const data = await readAll(res.body as AsyncIterableIterator<Uint8Array>);
  checkStatus(res.statusCode, url, http);
  let lines: (string | null)[];
  try {
    lines = parsePktLines(data);
  } catch {
    lines = [];
  }
  const refLines = lines.filter((l): l is string => l !== null);
  if (lines.length > 0 && lines[lines.length - 1] === null && refLines.every((l) => /^[0-9a-f]{40,64} \S+/.test(l))) {
    for (const l of refLines) {
      const [oid, name] = l.split(' ');
      if (name === ref) return oid!;
    }
    return null;
  }
  return lsRemoteRefV0(http, base, ref);
}

async function lsRemoteRefV0(http: CountingHttpClient, base: string, ref: string): Promise<string | null> {
  const res = await http.request({ url: `${base}/info/refs?service=git-upload-pack`, method: 'GET', headers: {} });
  const data = await readAll(res.body as AsyncIterableIterator<Uint8Array>);
  checkStatus(res.statusCode, base, http);
  for (const l of parsePktLines(data)) {
    if (l === null || l.startsWith('#')) continue;
    const [oid, rest] = l.split(' ');
    const name = rest?.split('\0')[0];
    if (name === ref) return oid!;
  }
  return null;
}
