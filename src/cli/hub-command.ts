// `rollgate hub` (the server) and its administration: gateways and tokens, either straight on the
// database (--database / --data-dir) or through a running hub's admin API (--hub and an admin
// token), which is the way while a hub holds its embedded database.

import { readFile } from 'node:fs/promises';
import { destination, pino, stdTimeFunctions } from 'pino';
import { durationMs, parseSize } from '../base/duration.js';
import { REDACT_PATHS } from '../agent/logger.js';
import {
  addGateway,
  addToken,
  DatabaseError,
  DEFAULT_HUB_LISTEN,
  Hub,
  listGateways,
  listTokens,
  migrate,
  openDatabase,
  readHubConfig,
  removeGateway,
  removeToken,
  rotateGatewayToken,
  type Database,
  type HubFileConfig,
} from '../hub/index.js';
import { DEFAULT_HUB_DATA_DIR } from '../hub/defaults.js';
import { EXIT_OK, type Io } from './io.js';
import { hubClientOptions, hubRequest, type HubClientOptions } from './hub-client.js';
import { promoterSettings, type PromoterFlags } from './hub-promoter.js';
import { repoSettings, type RepoFlags } from './hub-repo.js';

export { DEFAULT_HUB_DATA_DIR };

export interface DatabaseFlags {
  database?: string;
  dataDir?: string;
  config?: string;
}

export interface ServeFlags extends DatabaseFlags, PromoterFlags, RepoFlags {
  listen?: string;
  tlsCert?: string;
  tlsKey?: string;
  silentAfter?: string;
  retain?: string;
  logLevel: string;
  maxReportSize?: string;
}

async function fileConfig(o: DatabaseFlags): Promise<HubFileConfig> {
  return o.config ? readHubConfig(o.config) : { webhooks: [] };
}

async function openFrom(o: DatabaseFlags, file: HubFileConfig): Promise<Database> {
  const url = o.database ?? process.env['ROLLGATE_HUB_DATABASE'] ?? file.database;
  return openDatabase(url ? { url } : { dataDir: o.dataDir ?? file.dataDir ?? DEFAULT_HUB_DATA_DIR });
}

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

export async function runHub(o: ServeFlags, io: Io): Promise<number> {
  const file = await fileConfig(o);
  const log = pino(
    {
      level: o.logLevel,
      base: { component: 'hub' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination({ dest: 1, sync: true }),
  );
  const certPath = o.tlsCert ?? file.tls?.cert;
  const keyPath = o.tlsKey ?? file.tls?.key;
  if (Boolean(certPath) !== Boolean(keyPath)) throw new Error('TLS takes both --tls-cert and --tls-key');
  const tls =
    certPath && keyPath
      ? { cert: await readPem(certPath, '--tls-cert'), key: await readPem(keyPath, '--tls-key') }
      : undefined;
  const silentAfter = o.silentAfter ?? file.silentAfter ?? '15m';
  const promoter = await promoterSettings(o, file.promoter);
  const repo = repoSettings(o, promoter, file.repo);
  const db = await openFrom(o, file);
  let hub: Hub;
  try {
    hub = await Hub.start({
      db,
      log,
      listen: o.listen ?? file.listen ?? DEFAULT_HUB_LISTEN,
      ...(tls ? { tls } : {}),
      webhooks: file.webhooks,
      silentAfterMs: durationMs(silentAfter, '--silent-after'),
      retainMs: durationMs(o.retain ?? file.retain ?? '2160h', '--retain'),
      ...(o.maxReportSize ? { maxReportBytes: parseSize(o.maxReportSize, '--max-report-size') } : {}),
      ...(file.webhookRetry ? { webhookBackoffMs: durationMs(file.webhookRetry, 'webhookRetry') } : {}),
      ...(promoter ? { promoter } : {}),
      ...(repo ? { repo } : {}),
    });
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
  log.info(
    { url: hub.url, database: db.description, webhooks: file.webhooks.length },
    `rollgate hub listening on ${hub.url}, database ${db.description}`,
  );
  if (promoter)
    log.info(
      { repo: promoter.repo.repo, ref: promoter.repo.ref, by: promoter.by, signer: promoter.signer.fingerprint },
      `promoter: a step of the rollout on ${promoter.repo.ref} every ${promoter.intervalMs / 1000}s, signed by ` +
        `${promoter.signer.name} <${promoter.signer.email}>`,
    );
  io.err(`rollgate hub listening on ${hub.url} (database: ${db.description})\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      log.info({}, 'stopping: no new requests; reports in flight are finished');
      void hub.stop().then(resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return EXIT_OK;
}

export interface AdminFlags extends DatabaseFlags, Partial<HubClientOptions> {
  label?: string[];
  output?: 'human' | 'json';
}

/** Through a running hub's API: --hub, or $ROLLGATE_HUB_URL when no database is named. */
function viaHub(o: AdminFlags): boolean {
  return Boolean(o.hub ?? (o.database || o.dataDir ? undefined : process.env['ROLLGATE_HUB_URL']));
}

function labelsOf(pairs: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new Error(`--label takes key=value, got "${p}"`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

/** Runs `fn` on the database, migrated first. */
async function onDatabase<T>(o: DatabaseFlags, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openFrom(o, await fileConfig(o)).catch((err: unknown) => {
    if (err instanceof DatabaseError && /another rollgate hub/.test(err.message))
      throw new DatabaseError(
        `${err.message}; or ask the running hub: --hub <its url> --token-file <a file with an admin token>`,
      );
    throw err;
  });
  try {
    await migrate(db);
    return await fn(db);
  } finally {
    await db.close();
  }
}

function printToken(io: Io, what: string, token: string, hint: string): void {
  io.err(`${what}. Its token, shown this once (the hub keeps only a hash):\n`);
  io.out(`${token}\n`);
  io.err(hint);
}

export async function runGatewayAdd(id: string, o: AdminFlags, io: Io): Promise<number> {
  const labels = labelsOf(o.label);
  const token = viaHub(o)
    ? ((await hubRequest(hubClientOptions(o), 'POST', '/api/v1/gateways', { id, labels })) as { token: string }).token
    : await onDatabase(o, (db) => addGateway(db, id, labels));
  printToken(
    io,
    `gateway ${id} added`,
    token,
    `Put it in a file on the gateway (mode 0600), and set report.url and report.tokenFile in its configuration.\n`,
  );
  return EXIT_OK;
}

export async function runGatewayToken(id: string, o: AdminFlags, io: Io): Promise<number> {
  const token = viaHub(o)
    ? (
        (await hubRequest(hubClientOptions(o), 'POST', `/api/v1/gateways/${encodeURIComponent(id)}/token`)) as {
          token: string;
        }
      ).token
    : await onDatabase(o, (db) => rotateGatewayToken(db, id));
  printToken(io, `gateway ${id} has a new token; the old one no longer works`, token, '');
  return EXIT_OK;
}

export async function runGatewayRemove(id: string, o: AdminFlags, io: Io): Promise<number> {
  if (viaHub(o)) await hubRequest(hubClientOptions(o), 'DELETE', `/api/v1/gateways/${encodeURIComponent(id)}`);
  else await onDatabase(o, (db) => removeGateway(db, id));
  io.err(`gateway ${id} removed, with its history\n`);
  return EXIT_OK;
}

export async function runGatewayList(o: AdminFlags, io: Io): Promise<number> {
  const page = viaHub(o)
    ? ((await hubRequest(hubClientOptions(o), 'GET', '/api/v1/gateways?limit=1000')) as Awaited<
        ReturnType<typeof listGateways>
      >)
    : await onDatabase(o, (db) => listGateways(db, { limit: 1000 }));
  if (o.output === 'json') io.out(JSON.stringify(page.items, null, 2) + '\n');
  else
    for (const g of page.items)
      io.out(
        `${g.id}\t${g.silent ? 'silent' : g.lastSeen ? 'reporting' : 'never seen'}\t` +
          `${g.applied?.slice(0, 12) ?? '-'}\t` +
          `${Object.entries(g.labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(',')}\n`,
      );
  return EXIT_OK;
}

export async function runTokenAdd(
  name: string,
  o: DatabaseFlags & { role: 'reader' | 'admin' },
  io: Io,
): Promise<number> {
  const token = await onDatabase(o, (db) => addToken(db, o.role, name));
  printToken(io, `${o.role} token ${name} added`, token, '');
  return EXIT_OK;
}

export async function runTokenRemove(name: string, o: DatabaseFlags, io: Io): Promise<number> {
  await onDatabase(o, (db) => removeToken(db, name));
  io.err(`token ${name} removed\n`);
  return EXIT_OK;
}

export async function runTokenList(o: DatabaseFlags, io: Io): Promise<number> {
  for (const t of await onDatabase(o, (db) => listTokens(db))) io.out(`${t.name}\t${t.role}\t${t.createdAt}\n`);
  return EXIT_OK;
}
