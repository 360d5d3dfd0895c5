// The agent's control socket, <stateDir>/agent.sock (mode 0600): `rollgate sync` asks for a
// reconcile now and waits for its result; `rollgate status` asks what runs at this moment. The
// answers are scrubbed of the process's secrets, like everything else the agent lets out.

import { chmod, unlink } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { statePath } from '../base/state-dir.js';
import { scrubbed } from './redaction.js';

export interface ControlHandlers {
  sync(): Promise<unknown>;
  live(): unknown;
}

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
    else reply(404, { error: 'POST /sync or GET /live' });
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
export function callAgent(stateDir: string, method: 'GET' | 'POST', path: string, timeoutMs: number): Promise<unknown> {
  const socketPath = statePath(stateDir, 'control');
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, timeout: timeoutMs }, (res) => {
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
    req.end();
  });
}
