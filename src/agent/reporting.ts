// The agent's side of the fleet hub: the outbox in the state directory, the reporter's loop, and
// the status a report carries, read from the persisted state, the live view and the gateway's
// inventory. Nothing here can fail a reconcile: the worst a hub or a full disk does is a warning.

import { readFile } from 'node:fs/promises';
import { withDefaultCas } from '../base/tls-trust.js';
import type { Log } from '../base/log.js';
import { durationMs, parseSize } from '../base/duration.js';
import { isLoopback } from '../base/loopback.js';
import { processSecrets } from '../base/redact.js';
import { ROLLGATE_VERSION } from '../base/version.js';
import type { Gateway } from '../gateway/gateway.js';
import type { ReportEvent, ReportStatus } from '../model/index.js';
import { Outbox, Reporter } from '../report/index.js';
import { ConfigError, type AgentConfig } from './config.js';
import type { LiveView } from './live.js';
import { outboxDir, recordVerdicts, startRecording } from './outbox-record.js';
import { scrubbed } from './redaction.js';
import type { StateStore } from './state.js';

const INVENTORY_TIMEOUT_MS = 10_000;

type Inventory = Pick<ReportStatus, 'components' | 'containers'>;

async function readToken(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the hub token file ${file} (report.tokenFile): ${(err as Error).message}`);
  }
  const token = text.trim();
  processSecrets.add([token]);
  if (!token || /\s/.test(token))
    throw new ConfigError(
      `the hub token file ${file} (report.tokenFile) must hold one token, as printed by ` +
        '`rollgate hub gateway add <id>` (its content is not shown)',
    );
  return token;
}

export interface ReportingParts {
  cfg: AgentConfig;
  state: StateStore;
  live: LiveView;
  /** What the gateway runs, for the hub's inventory (the resident agent makes its Gateway when first asked). */
  gateway: Pick<Gateway, 'inventory'>;
  log: Log;
}

/** The reporter for `report:` of the configuration, wired to the state store; undefined without report.url. */
export async function startReporting(p: ReportingParts): Promise<Reporter | undefined> {
  const r = p.cfg.report;
  if (!r.url) return undefined;
  if (!r.tokenFile)
    throw new ConfigError(
      'report.url is set and report.tokenFile is not: the hub takes reports only with a gateway token ' +
        `(\`rollgate hub gateway add ${p.cfg.gateway.id}\` prints one)`,
    );
  const hub = new URL(r.url);
  if (hub.protocol === 'http:' && !isLoopback(hub.hostname) && !r.allowPlainHttp)
    throw new ConfigError(
      `refusing to send this gateway's hub token to ${hub.host} over plain http, where anyone on the path can read ` +
        'it and report as this gateway: use https (rollgate hub --tls-cert/--tls-key), or allow it on purpose with ' +
        'report.allowPlainHttp (--report-allow-plain-http)',
    );
  const token = await readToken(r.tokenFile);
  // Besides the system's CAs, as the README says: Node's `ca` alone would replace them.
  let ca: string[] | undefined;
  if (r.caFile) {
    try {
      ca = withDefaultCas(await readFile(r.caFile, 'utf8'));
    } catch (err) {
      throw new ConfigError(`cannot read report.caFile ${r.caFile}: ${(err as Error).message}`);
    }
  }
  const outbox = await Outbox.open(outboxDir(p.cfg.stateDir), parseSize(r.outboxSize, 'report.outboxSize'));
  const startedAt = new Date().toISOString();
  let known: Inventory = { components: [], containers: [] };
  const inventory = async (): Promise<Inventory> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      known = await Promise.race([
        p.gateway.inventory(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('took too long')), INVENTORY_TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      p.log.debug({ err: (err as Error).message }, 'the inventory for the hub could not be read; sending the last one');
    } finally {
      clearTimeout(timer);
    }
    return known;
  };
  const reporter = new Reporter({
    url: r.url,
    token,
    ...(ca ? { ca } : {}),
    gateway: p.cfg.gateway.id,
    heartbeatMs: durationMs(r.heartbeat, 'report.heartbeat'),
    outbox,
    log: p.log,
    // What the hub stores and shows, and its webhooks send on, is scrubbed of this process's secrets.
    status: async () => {
      const st = p.state.current;
      const inv = await inventory();
      return scrubbed({
        labels: p.cfg.gateway.labels,
        ...(st.applied ? { applied: st.applied } : {}),
        ...(st.lastGood ? { lastGood: st.lastGood } : {}),
        ...(st.lastAttempted ? { lastAttempted: st.lastAttempted } : {}),
        ...(p.live.status.lastPoll?.commit ? { head: p.live.status.lastPoll.commit } : {}),
        conditions: [...st.conditions, p.live.reconciling()],
        bad: st.bad.slice(-20).map((b) => ({ commit: b.commit, kind: b.kind, reason: b.reason, at: b.at })),
        ...(st.lastError ? { lastError: st.lastError } : {}),
        ...(st.rollout ? { rollout: st.rollout } : {}),
        ...(st.deferred ? { deferred: st.deferred } : {}),
        ...inv,
        version: ROLLGATE_VERSION,
        rssBytes: process.memoryUsage.rss(),
        startedAt,
      });
    },
  });
  const add = (events: ReportEvent[]) => reporter.record(events);
  p.state.onRecorded = async (appended, after) => {
    await recordVerdicts(p.cfg.stateDir, appended, after, add);
  };
  const missed = await startRecording(p.cfg.stateDir, p.state.current, add);
  if (missed)
    p.log.info({ events: missed }, `${missed} verdict(s) recorded before a kill were put in the outbox for the hub`);
  if (outbox.size > 0)
    p.log.info({ waiting: outbox.size, lost: outbox.lost }, `${outbox.size} event(s) from before wait for the hub`);
  reporter.start();
  return reporter;
}

/**
 * After a worker ended (or died): the verdicts it recorded in the state and did not put in the
 * outbox (killed in between) are added. Only when no worker runs: one that runs may be between its
 * state and its outbox.
 */
export async function catchUpOutbox(
  p: Pick<ReportingParts, 'cfg' | 'state' | 'log'>,
  reporter: Reporter,
): Promise<void> {
  const missed = await recordVerdicts(p.cfg.stateDir, [], p.state.current, (events) => reporter.record(events));
  if (missed)
    p.log.info({ events: missed }, `${missed} verdict(s) the worker recorded before it died were put in the outbox`);
}
