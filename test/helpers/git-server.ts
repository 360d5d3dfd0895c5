// A real Git smart-HTTP server for tests: `git http-backend` (CGI) behind a loopback HTTP
// server, with request counting and faults on demand (down, 5xx, cut mid-pack, auth).

import { spawn } from 'node:child_process';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';

const BACKEND = '/usr/lib/git-core/git-http-backend';

export type Fault = 'none' | 'error500' | 'cut-pack';

export interface GitServer {
  url(repo: string): string;
  /** Every request, with the bytes of its body and of the response body (as they are sent). */
  requests: { method: string; path: string; bytesIn: number; bytesOut: number }[];
  fault: Fault;
  /** When set, requests need `Authorization: Bearer <token>`. */
  token?: string;
  /** Called as each request arrives, before it is served (a test moves the branch under a push). */
  onRequest?: ((r: { method: string; path: string }) => void) | undefined;
  /** Paths under `from` answer a redirect of this status to the same path under `to`. */
  redirect?: { from: string; to: string; status: 301 | 302 | 307 | 308 };
  close(): Promise<void>;
  port: number;
}

/** `tls`: serve https with this key and certificate (PEM text) instead of http. */
export async function startGitServer(
  projectRoot: string,
  port = 0,
  o: { tls?: { key: string; cert: string } } = {},
): Promise<GitServer> {
  const state: Omit<GitServer, 'close' | 'url' | 'port'> = { requests: [], fault: 'none' };
  const handler: http.RequestListener = (req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const entry = { method: req.method ?? 'GET', path: u.pathname + u.search, bytesIn: 0, bytesOut: 0 };
    state.requests.push(entry);
    state.onRequest?.(entry);
    const r = state.redirect;
    if (r && u.pathname.startsWith(r.from)) {
      req.resume();
      res.writeHead(r.status, { location: r.to + u.pathname.slice(r.from.length) + u.search }).end();
      return;
    }
    if (state.token !== undefined && req.headers.authorization !== `Bearer ${state.token}`) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="fleet"' }).end('auth required');
      return;
    }
    if (state.fault === 'error500') {
      res.writeHead(500).end('injected failure');
      return;
    }
    const body: Buffer[] = [];
    req.on('error', () => {});
    req.on('data', (c: Buffer) => body.push(c));
    req.on('end', () => {
      const input = Buffer.concat(body);
      entry.bytesIn = input.length;
      const cutThis = state.fault === 'cut-pack' && input.includes(Buffer.from('want '));
      const env: NodeJS.ProcessEnv = {
        PATH: process.env['PATH'],
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: u.pathname,
        QUERY_STRING: u.search.replace(/^\?/, ''),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        CONTENT_LENGTH: String(input.length),
        REMOTE_ADDR: '127.0.0.1',
        ...(req.headers['git-protocol']
          ? {
              GIT_PROTOCOL: String(req.headers['git-protocol']),
              HTTP_GIT_PROTOCOL: String(req.headers['git-protocol']),
            }
          : {}),
      };
      const cgi = spawn(BACKEND, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      // The backend may exit before reading its input, and clients may hang up mid-response:
      // both are normal for a server and show up in the response, not as a crash.
      cgi.stdin.on('error', () => {});
      res.on('error', () => {});
      cgi.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      cgi.stdin.end(input);
      let head = Buffer.alloc(0);
      let headersDone = false;
      let sent = 0;
      cgi.stdout.on('data', (chunk: Buffer) => {
        if (!headersDone) {
          head = Buffer.concat([head, chunk]);
          const idx = head.indexOf('\r\n\r\n');
          const sep = idx >= 0 ? 4 : 2;
          const at = idx >= 0 ? idx : head.indexOf('\n\n');
          if (at < 0) return;
          headersDone = true;
          const headers: Record<string, string> = {};
          let status = 200;
          for (const line of head.subarray(0, at).toString('latin1').split(/\r?\n/)) {
            const c = line.indexOf(':');
            if (c < 0) continue;
            const k = line.slice(0, c).trim();
            const v = line.slice(c + 1).trim();
            if (k.toLowerCase() === 'status') status = parseInt(v, 10);
            else headers[k] = v;
          }
          res.writeHead(status, headers);
          chunk = head.subarray(at + sep);
        }
        if (cutThis) {
          const room = Math.max(0, 200 - sent);
          if (room > 0) res.write(chunk.subarray(0, room));
          sent += chunk.length;
          if (sent >= 200) {
            cgi.kill();
            res.socket?.destroy();
          }
          return;
        }
        entry.bytesOut += chunk.length;
        res.write(chunk);
      });
      cgi.on('close', () => {
        if (!headersDone) res.writeHead(502);
        res.end();
      });
    });
  };
  const server = o.tls ? https.createServer(o.tls, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actualPort = (server.address() as AddressInfo).port;
  const g = state as GitServer;
  g.port = actualPort;
  g.url = (repo: string) => `${o.tls ? 'https' : 'http'}://127.0.0.1:${actualPort}/${repo}`;
  g.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return g;
}
