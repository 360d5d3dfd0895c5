// The hub's tests run on both databases: the embedded one (PGlite under a temp dir) and a real
// PostgreSQL started for the test file (./postgres.ts), each test on a fresh database. Reports
// are built here as an agent would send them, and sent over HTTP.

import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { addGateway, addToken, Hub, openDatabase, type Database, type HubOptions } from '../../src/hub/index.js';
import type { Report, ReportEvent, ReportSequence, ReportStatus, VerdictReason } from '../../src/model/index.js';
import { tempDir } from './fixtures.js';
import { Lines } from './log-lines.js';
import { createDatabase, missingPostgres, startPostgres, type PostgresServer } from './postgres.js';

export interface DatabaseKind {
  name: 'embedded' | 'postgres';
  /** A fresh, empty database. */
  fresh(): Promise<{ open(): Promise<Database>; url?: string }>;
}

export interface Databases {
  kinds: DatabaseKind[];
  postgres?: PostgresServer;
  stop(): Promise<void>;
}

/** The embedded database always; PostgreSQL when it can start (under CI=true it must). */
export async function hubDatabases(): Promise<Databases> {
  const kinds: DatabaseKind[] = [
    {
      name: 'embedded',
      fresh: async () => {
        const dir = join(tempDir('rollgate-hub-'), 'data');
        return { open: () => openDatabase({ dataDir: dir }) };
      },
    },
  ];
  const missing = missingPostgres();
  if (missing) {
    if (process.env['CI'] === 'true') throw new Error(`CI=true and PostgreSQL cannot start: ${missing}`);
    process.stderr.write(`\n!!! SKIPPING the hub tests on PostgreSQL: ${missing} is missing\n\n`);
    return { kinds, stop: async () => {} };
  }
  const pg = await startPostgres({ fsync: false });
  let n = 0;
  kinds.push({
    name: 'postgres',
    fresh: async () => {
      const url = await createDatabase(pg, `hub_${process.pid}_${n++}`);
      return { url, open: () => openDatabase({ url, poolSize: 5 }) };
    },
  });
  return { kinds, postgres: pg, stop: () => pg.stop() };
}

/** A commit id of its own for each n (distinct from the first digits on). */
export const sha = (n: number | string) => createHash('sha1').update(`commit ${n}`).digest('hex');

export function status(o: Partial<ReportStatus> & { ready?: string; healthy?: string } = {}): ReportStatus {
  const at = new Date().toISOString();
  const { ready, healthy, ...rest } = o;
  return {
    labels: {},
    conditions: [
      ...(ready ? [{ type: 'Ready' as const, status: ready as 'True', reason: 'applied' as const, since: at }] : []),
      ...(healthy
        ? [{ type: 'Healthy' as const, status: healthy as 'True', reason: 'applied' as const, since: at }]
        : []),
    ],
    bad: [],
    components: [],
    containers: [],
    version: '0.1.0',
    rssBytes: 40_000_000,
    startedAt: at,
    ...rest,
  };
}

export function verdict(v: VerdictReason, commit: string, extra: Partial<ReportEvent> = {}): ReportEvent {
  return { id: randomUUID(), at: new Date().toISOString(), verdict: v, commit, ...extra };
}

/** The numbering the test reports are in; each report made here comes after the one before. */
export const TEST_BOOT = 'test-boot';
let sequence = 0;

export function report(
  gateway: string,
  st: ReportStatus,
  events: ReportEvent[] = [],
  lost = 0,
  seq: ReportSequence = { boot: TEST_BOOT, seq: ++sequence },
): Report {
  return {
    schema: 'rollgate.report/v1',
    gateway,
    sentAt: new Date().toISOString(),
    sequence: seq,
    status: st,
    events,
    lost,
  };
}

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

export async function call(
  base: string,
  method: string,
  path: string,
  o: {
    token?: string | undefined;
    body?: unknown;
    raw?: string | Uint8Array;
    type?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<Answer> {
  const res = await fetch(base + path, {
    method,
    redirect: 'manual',
    headers: {
      ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
      ...(o.body !== undefined || o.raw !== undefined ? { 'content-type': o.type ?? 'application/json' } : {}),
      ...o.headers,
    },
    ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : o.raw !== undefined ? { body: o.raw } : {}),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON (metrics, pages)
  }
  return { status: res.status, body, text };
}

/** A hub on a fresh database of `kind`, with gateways (and their tokens), an admin and a reader token. */
export interface Lab {
  hub: Hub;
  db: Database;
  url: string;
  admin: string;
  reader: string;
  gw: Record<string, string>;
  log: Lines;
  post(gateway: string, body: unknown, token?: string): Promise<Answer>;
  get(path: string): Promise<Answer>;
}

export async function lab(
  kind: DatabaseKind,
  gateways: Record<string, Record<string, string>>,
  o: Partial<HubOptions> = {},
): Promise<Lab> {
  const fresh = await kind.fresh();
  const db = await fresh.open();
  const log = new Lines();
  const hub = await Hub.start({ db, log, listen: '127.0.0.1:0', jobIntervalMs: 3_600_000, ...o });
  const gw: Record<string, string> = {};
  for (const [id, labels] of Object.entries(gateways)) gw[id] = await addGateway(db, id, labels);
  const admin = await addToken(db, 'admin', 'ops');
  const reader = await addToken(db, 'reader', 'dashboard');
  return {
    hub,
    db,
    url: hub.url,
    admin,
    reader,
    gw,
    log,
    post: (gateway, body, token) => call(hub.url, 'POST', '/api/v1/reports', { token: token ?? gw[gateway], body }),
    get: (path) => call(hub.url, 'GET', path, { token: reader }),
  };
}

/** A webhook receiver on loopback: it records what it gets, and fails the first `failFirst` calls. */
export class WebhookReceiver {
  readonly received: { body: Record<string, unknown>; signature?: string; raw: string }[] = [];
  private server!: Server;
  private calls = 0;
  url = '';

  constructor(private readonly failFirst = 0) {}

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (this.calls++ < this.failFirst) {
          res.writeHead(500).end('not now');
          return;
        }
        const raw = Buffer.concat(chunks).toString();
        const sig = req.headers['x-rollgate-signature'];
        this.received.push({
          raw,
          body: JSON.parse(raw) as Record<string, unknown>,
          ...(typeof sig === 'string' ? { signature: sig } : {}),
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  get attempts(): number {
    return this.calls;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}
