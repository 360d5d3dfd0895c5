// Whether the Docker Engine holds anything of rollgate's, asked over its unix socket with
// node:http: containers, networks and volumes that carry rollgate's app label, whichever state
// directory made them. The agent asks it before it loads the Engine client (dockerode, which
// brings ssh2, grpc-js and protobufjs) on a gateway that desires no apps.

import { request } from 'node:http';
import { LABEL } from '../apply/index.js';

const PROBE_TIMEOUT_MS = 10_000;
/** The most of one answer read: a list filtered by rollgate's label, and no more is needed than "empty or not". */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

function get(socketPath: string, path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, agent: false, timeout: PROBE_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`the Engine's answer to GET ${path} is too large`));
        else chunks.push(c);
      });
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`the Engine answered ${res.statusCode} to GET ${path}`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (err) {
          reject(err as Error);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} on the Engine timed out`)));
    req.on('error', reject);
    req.end();
  });
}

const nonEmpty = (v: unknown) => Array.isArray(v) && v.length > 0;

/** Rejects when the Engine does not answer (no socket, refused, not allowed, an error status). */
export async function holdsRollgateObjects(socketPath: string): Promise<boolean> {
  const filters = encodeURIComponent(JSON.stringify({ label: [LABEL.app] }));
  const [containers, networks, volumes] = await Promise.all([
    get(socketPath, `/containers/json?all=1&limit=1&filters=${filters}`),
    get(socketPath, `/networks?filters=${filters}`),
    get(socketPath, `/volumes?filters=${filters}`),
  ]);
  return nonEmpty(containers) || nonEmpty(networks) || nonEmpty((volumes as { Volumes?: unknown } | null)?.Volumes);
}
