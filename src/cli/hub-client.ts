// The CLI's side of the hub API: `rollgate fleet` and the admin commands with --hub. The token is
// read from a file (or $ROLLGATE_HUB_TOKEN_FILE), never from the command line, where `ps` shows it.

import { readFile } from 'node:fs/promises';

export interface HubClientOptions {
  hub: string;
  tokenFile: string;
  caFile?: string;
}

export class HubClientError extends Error {
  override name = 'HubClientError';
}

/** --hub and --token-file, from the flags or the environment. */
export function hubClientOptions(o: { hub?: string; tokenFile?: string }): HubClientOptions {
  const hub = o.hub ?? process.env['ROLLGATE_HUB_URL'];
  const tokenFile = o.tokenFile ?? process.env['ROLLGATE_HUB_TOKEN_FILE'];
  if (!hub) throw new HubClientError('which hub? --hub <url> or ROLLGATE_HUB_URL (e.g. http://127.0.0.1:9480)');
  if (!tokenFile)
    throw new HubClientError(
      'a reader or admin token is needed: --token-file <file> or ROLLGATE_HUB_TOKEN_FILE ' +
        '(`rollgate hub token add --role reader <name>` makes one)',
    );
  return { hub, tokenFile };
}

export async function hubRequest(o: HubClientOptions, method: string, path: string, body?: unknown): Promise<unknown> {
  let token: string;
  try {
    token = (await readFile(o.tokenFile, 'utf8')).trim();
  } catch (err) {
    throw new HubClientError(`cannot read the token file ${o.tokenFile}: ${(err as Error).message}`);
  }
  const url = new URL(path, o.hub.endsWith('/') ? o.hub : o.hub + '/');
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new HubClientError(`cannot reach the hub at ${o.hub}: ${cause ?? (err as Error).message}`);
  }
  const text = await res.text();
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new HubClientError(`the hub at ${o.hub} answered ${res.status} with something that is not JSON`);
  }
  if (!res.ok) {
    const e = (doc as { error?: unknown }).error;
    throw new HubClientError(`the hub answered ${res.status}: ${typeof e === 'string' ? e : 'no reason given'}`);
  }
  return doc;
}
