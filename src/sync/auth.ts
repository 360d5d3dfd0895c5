// Credentials for the fleet repo, read from a file at each use so a rotated token is picked up
// without a restart. They go into request headers only: never into URLs, messages or logs, and
// they are secrets of the process (processSecrets), so a server that echoes them is scrubbed too.

import { readFile } from 'node:fs/promises';
import { processSecrets } from '../base/redact.js';
import { SyncError } from './errors.js';

export type GitAuth = { kind: 'token'; file: string } | { kind: 'basic'; file: string };

export async function authHeaders(auth: GitAuth | undefined): Promise<Record<string, string>> {
  if (!auth) return {};
  let secret: string;
  try {
    secret = (await readFile(auth.file, 'utf8')).trim();
  } catch (err) {
    throw new SyncError(
      'auth',
      `cannot read the ${auth.kind} ` +
        `file ${auth.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      false,
    );
  }
  if (secret === '') throw new SyncError('auth', `the ${auth.kind} file ${auth.file} is empty`, false);
  if (auth.kind === 'token') {
    processSecrets.add([secret]);
    return { authorization: `Bearer ${secret}` };
  }
  if (!secret.includes(':'))
    throw new SyncError('auth', `the basic-auth file ${auth.file} must hold one line "user:password"`, false);
  // The user name is who, not a secret; the password and the pair (what the header encodes) are.
  processSecrets.add([secret, secret.slice(secret.indexOf(':') + 1)]);
  return { authorization: `Basic ${Buffer.from(secret).toString('base64')}` };
}
