// The agent's control socket, <stateDir>/agent.sock (mode 0600): `rollgate sync` asks for a
// reconcile now and waits for its result; `rollgate status` asks what runs at this moment;
// `rollgate forget` clears a bad-commit record through the agent that owns the state. The
// answers are scrubbed of the process's secrets, like everything else the agent lets out.

import { chmod, unlink } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { statePath } from '../base/state-dir.js';
import { scrubbed } from './redaction.js';

export interface ControlHandlers {
  sync(): Promise<unknown>;
  live(): unknown;
  /** Clears a bad record; rejects with ControlRequestError when the request itself is wrong. */
  forget(body: unknown): Promise<unknown>;
}

/** A request the agent refuses as it stands (HTTP 400): the message is for the person who sent it. */
export class ControlRequestError extends Error {
  override name = 'ControlRequestError';
}

/** A request body is a few fields; anything longer is not from rollgate. */
const MAX_BODY = 64 * 1024;

export async function serveControl(stateDir: string, h: ControlHandlers): Promise<Server> {
  const path = statePath(stateDir, 'control');
  // We hold the agent lock, so a socket file left here belongs to a dead agent.
  await unlink(path).catch(() => {});
  const server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(scrubbed(body)) + '\n');
    };
    if (req.method === 'POST' && req.url === '/sync') {
      h.sync().then(
        (r) => reply(200, r),
        (err: Error) => reply(500, { error: err.message }),
      );
    } else if (req.method === 'GET' && req.url === '/live') reply(200, h.live());
    else if (req.method === 'POST' && req.url === '/forget') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        body += c;
        if (body.length > MAX_BODY) req.destroy();
      });
      req.on('end', () => {
        let doc: unknown;
        try {
          doc = JSON.parse(body);
        } catch {
          return reply(400, { error: 'the request is not JSON' });
        }
        // A handler that throws at once is answered like one that rejects: never a crash of the agent.
        Promise.resolve(doc)
          .then((d) => h.forget(d))
          .then(
            (r) => reply(200, r),
            (err: Error) => reply(err instanceof ControlRequestError ? 400 : 500, { error: err.message }),
          );
      });
    } else reply(404, { error: 'POST /sync, POST /forget or GET /live' });
  });
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  await chmod(path, 0o600);
  return server;
}

export class NoAgentError extends Error {
  override name = 'NoAgentError';
}

/** Calls the running agent; NoAgentError when none listens on the state directory. */
export function callAgent(
  stateDir: string,
  method: 'GET' | 'POST',
  path: string,
  timeoutMs: number,
  body?: unknown,
): Promise<unknown> {
  const socketPath = statePath(stateDir, 'control');
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'content-type': 'application/json' };
    const req = request({ socketPath, method, path, timeout: timeoutMs, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          const doc = JSON.parse(body) as { error?: string };
          if (res.statusCode !== 200) reject(new Error(doc.error ?? `the agent answered HTTP ${res.statusCode}`));
          else resolve(doc);
        } catch {
          reject(new Error(`the agent answered something that is not JSON: ${body.slice(0, 200)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`the agent did not answer within ${timeoutMs / 1000}s`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')
        reject(
          new NoAgentError(
            `no rollgate agent is running on the state directory ${stateDir} (nothing listens on ${socketPath})`,
          ),
        );
      else reject(err);
    });
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
