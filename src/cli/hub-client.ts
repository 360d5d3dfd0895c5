// The CLI's side of the hub API: `rollgate fleet` and the admin commands with --hub. The token is
// read from a file (or $ROLLGATE_HUB_TOKEN_FILE), never from the command line, where `ps` shows it.
// Requests go over node:http(s), as the agent's reports do, so a hub with a private CA is trusted
// with --ca-file (fetch takes no CA of its own).

import { readFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { networkReason, untrustedCertificate } from '../base/net-error.js';
import { withDefaultCas } from '../base/tls-trust.js';
import { isLoopback } from '../base/loopback.js';
import { redactUrl } from '../base/url.js';
import { terminalText } from './terminal-text.js';

export interface HubClientOptions {
  hub: string;
  tokenFile: string;
  /** PEM certificates to trust for the hub's TLS certificate, besides the system's. */
  caFile?: string;
}

export class HubClientError extends Error {
  override name = 'HubClientError';
}

/** --hub, --token-file and --ca-file, from the flags or the environment. */
export function hubClientOptions(o: { hub?: string; tokenFile?: string; caFile?: string }): HubClientOptions {
  const hub = o.hub ?? process.env['ROLLGATE_HUB_URL'];
  const tokenFile = o.tokenFile ?? process.env['ROLLGATE_HUB_TOKEN_FILE'];
  const caFile = o.caFile ?? process.env['ROLLGATE_HUB_CA_FILE'];
  if (!hub) throw new HubClientError('which hub? --hub <url> or ROLLGATE_HUB_URL (e.g. http://127.0.0.1:9480)');
  if (!tokenFile)
    throw new HubClientError(
      'a reader or admin token is needed: --token-file <file> or ROLLGATE_HUB_TOKEN_FILE ' +
        '(`rollgate hub token add --role reader <name>` makes one)',
    );
  return { hub, tokenFile, ...(caFile ? { caFile } : {}) };
}

const MAX_ANSWER = 64 << 20;

interface Answer {
  status: number;
  text: string;
}

function send(url: URL, method: string, headers: Record<string, string>, body: string | undefined, ca?: string[]) {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<Answer>((resolve, reject) => {
    const req = request(url, { method, headers, timeout: 30_000, ...(ca ? { ca } : {}) }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER) req.destroy(new Error('the answer is larger than 64 MiB'));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Lets the CLI send its token over plain http to another machine, on purpose. */
export const ALLOW_PLAIN_HTTP = 'ROLLGATE_HUB_ALLOW_PLAIN_HTTP';

export async function hubRequest(o: HubClientOptions, method: string, path: string, body?: unknown): Promise<unknown> {
  if (!URL.canParse(o.hub) || !/^https?:$/.test(new URL(o.hub).protocol))
    throw new HubClientError(`the hub's address is an http:// or https:// URL, got "${redactUrl(o.hub)}"`);
  const hub = new URL(o.hub);
  // The token file is how the CLI says who it is; a password in the address would be shown in every
  // message and in `ps`, and sent besides.
  if (hub.username || hub.password)
    throw new HubClientError(
      `the hub's address ${redactUrl(o.hub)} has credentials in it: give the hub's plain address, and the token ` +
        'with --token-file or ROLLGATE_HUB_TOKEN_FILE',
    );
  if (hub.protocol === 'http:') {
    // A CA file says the operator meant TLS: plain http would carry the token with no certificate checked.
    if (o.caFile)
      throw new HubClientError(`--ca-file (${o.caFile}) is for a hub at an https:// URL; ${o.hub} is plain http`);
    // As the agent's report.allowPlainHttp: a reader or admin token on the wire is anyone's on the path.
    if (!isLoopback(hub.hostname) && process.env[ALLOW_PLAIN_HTTP] !== 'true')
      throw new HubClientError(
        `refusing to send the token in ${o.tokenFile} to ${hub.host} over plain http, where anyone on the path can ` +
          `read it and act as it: use https (rollgate hub --tls-cert/--tls-key), or allow it on purpose with ` +
          `${ALLOW_PLAIN_HTTP}=true`,
      );
  }
  let token: string;
  try {
    token = (await readFile(o.tokenFile, 'utf8')).trim();
  } catch (err) {
    throw new HubClientError(`cannot read the token file ${o.tokenFile}: ${(err as Error).message}`);
  }
  if (token === '')
    throw new HubClientError(
      `the token file ${o.tokenFile} is empty: put a reader or admin token in it ` +
        '(`rollgate hub token add --role reader <name>` on the hub makes one)',
    );
  let ca: string[] | undefined;
  if (o.caFile) {
    try {
      ca = withDefaultCas(await readFile(o.caFile, 'utf8'));
    } catch (err) {
      throw new HubClientError(`cannot read the CA file ${o.caFile}: ${(err as Error).message}`);
    }
  }
  const url = new URL(path, o.hub.endsWith('/') ? o.hub : o.hub + '/');
  const headers: Record<string, string> = {
    authorization: `Bearer ${token}`,
    ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
  };
  let res: Answer;
  try {
    res = await send(url, method, headers, body !== undefined ? JSON.stringify(body) : undefined, ca);
  } catch (err) {
    const why = networkReason(err, url) ?? (err as Error).message;
    const hint = untrustedCertificate(err)
      ? o.caFile
        ? `; ${o.caFile} does not hold the CA that signed it`
        : "; if the hub's certificate comes from a private CA, give that CA's certificate (PEM) with --ca-file " +
          '<file> or ROLLGATE_HUB_CA_FILE'
      : '';
    throw new HubClientError(`cannot reach the hub at ${o.hub}: ${why}${hint}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(res.text);
  } catch {
    throw new HubClientError(`the hub at ${o.hub} answered ${res.status} with something that is not JSON`);
  }
  const e = (doc as { error?: unknown } | null)?.error;
  // The hub's words reach the operator's terminal: shown, never obeyed.
  const said = typeof e === 'string' ? terminalText(e) : 'no reason given';
  if (res.status === 401)
    throw new HubClientError(
      `the hub refused the token in ${o.tokenFile} (401: ${said}); put a current reader or admin token in it ` +
        '(`rollgate hub token add --role reader <name>` on the hub makes one)',
    );
  if (res.status === 403)
    throw new HubClientError(`the hub refused the token in ${o.tokenFile} for this (403: ${said})`);
  if (res.status < 200 || res.status >= 300) throw new HubClientError(`the hub answered ${res.status}: ${said}`);
  return doc;
}
