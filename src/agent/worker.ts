// The agent's worker: a process the resident part (./agent.ts) forks when a poll finds work — a
// new head, a resume, drift to check, a gateway to look at again — and that ends when the work is
// done. It holds everything heavy: fetching (isomorphic-git), loading commits (yaml, the
// schemas), signatures (openpgp), the appliers (dockerode). The commit lifecycle runs here as it
// ran in the single-process agent; what the parent shows (live status, metrics) is streamed to it
// over IPC (./worker-protocol.ts), and the state file, which only one process writes at a time, is
// read again by the parent after each verdict and once the worker has exited. The verdicts' events
// for the hub are written to the outbox here, beside the state; the parent sends them.

import { crashPoint } from '../apply/crash-points.js';
import { errorMessage } from '../base/error-message.js';
import type { Log } from '../base/log.js';
import { Gateway, readVariables } from '../gateway/gateway.js';
import { badRecord, CommitLifecycle, type LifecycleEvents, type Verdict } from '../lifecycle/index.js';
import { afterPoll, Reason, VERDICTS } from '../model/index.js';
import { writeOutboxEvents } from '../report/index.js';
import { SyncError } from '../sync/index.js';
import { DecryptionKeyError, readDecryptionKeys, readTrustedKeys } from '../trust/index.js';
import { ConfigError, type AgentConfig } from './config.js';
import type { FleetSource } from './fleet-source.js';
import { gatewayOptions } from './gateway-options.js';
import { agentLogger } from './logger.js';
import { agentFleetSource, lifecyclePorts } from './ports.js';
import { allowPublic } from './redaction.js';
import { skipBadLine } from './at-rest.js';
import { outboxDir, recordVerdicts } from './outbox-record.js';
import { StateStore } from './state.js';
import type { CycleOutcome, WorkerJob, WorkerMessage, WorkerRequest } from './worker-protocol.js';

type Cycle = Extract<WorkerJob, { kind: 'cycle' }>;

/** Sends to the parent; a parent gone (killed) is no error here: the next agent's start ends this process. */
function send(m: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve();
    process.send(m, undefined, {}, () => resolve());
  });
}

function events(): LifecycleEvents {
  return {
    activity: (phase, commit, progress) =>
      void send({
        type: 'activity',
        phase,
        ...(commit ? { commit } : {}),
        ...(progress ? { progress } : {}),
      }),
    progress: (progress) => void send({ type: 'progress', progress }),
    rollingBack: (kind) => void send({ type: 'rolling-back', kind }),
    verdict: (verdict) => void send({ type: 'verdict', verdict }),
  };
}

async function lifecycleFor(
  cfg: AgentConfig,
  store: StateStore,
  source: FleetSource,
  log: Log,
  memory: Extract<WorkerRequest, { type: 'run' }>['memory'],
): Promise<CommitLifecycle> {
  const gateway = new Gateway(gatewayOptions(cfg), log);
  const keys = cfg.trust.keys ?? [];
  const trusted = keys.length > 0 ? await readTrustedKeys(keys) : undefined;
  const promoterFiles = cfg.trust.promoterKeys ?? [];
  if (promoterFiles.length > 0 && !trusted)
    throw new ConfigError(
      'trust.promoterKeys is set without trust.keys: a promoter key narrows what a trusted fleet may sign, so ' +
        'it takes the release keys (trust.keys) too',
    );
  const promoterKeys = promoterFiles.length > 0 ? await readTrustedKeys(promoterFiles) : undefined;
  const decryptionKeys = await readDecryptionKeys(cfg.secrets?.keyFiles ?? [], true).catch((err: unknown) => {
    throw err instanceof DecryptionKeyError ? new ConfigError(`secrets.keyFiles: ${err.message}`) : err;
  });
  // What an apply prints is scrubbed too: the variables are known before it runs (every reconcile
  // reads them again, and says so when the file is wrong).
  const vars = cfg.gateway.variablesFile;
  if (vars) await readVariables([vars]).catch(() => undefined);
  return new CommitLifecycle(
    lifecyclePorts({
      cfg,
      source,
      store,
      log,
      events: events(),
      gateway,
      ...(trusted ? { trusted } : {}),
      ...(promoterKeys ? { promoterKeys } : {}),
      decryptionKeys,
    }),
    memory,
  );
}

const counted = (v: Verdict) => VERDICTS[v.reason].reconciles !== null;

/** One poll (fetching what it found) and what follows from it: today's reconcile, after the parent's poll. */
async function cycle(
  job: Cycle,
  lifecycle: CommitLifecycle,
  state: StateStore,
  source: FleetSource,
  log: Log,
): Promise<CycleOutcome> {
  events().activity('polling');
  let commit: string;
  try {
    commit = (await source.poll((c) => badRecord(state.current.bad, c) !== undefined)).commit;
  } catch (err) {
    if (err instanceof SyncError && err.kind === 'too-large' && err.commit) {
      const verdict = await lifecycle.refuse(err.commit, err.message);
      return { verdict, polled: { commit: err.commit, error: err.message }, polls: 'new-commit' };
    }
    log.warn(
      { verdict: Reason.PollFailed, err: errorMessage(err) },
      `poll failed, the gateway is left as it is: ${errorMessage(err)}`,
    );
    const verdict = await lifecycle.pollFailed(errorMessage(err));
    return { verdict, polled: { error: errorMessage(err) }, polls: Reason.PollFailed };
  }
  const polled = { commit };
  const { driftDue, recoverDue } = job;
  if (afterPoll(state.current, commit, driftDue, recoverDue).action === 'finish-rollback') {
    const verdict = await lifecycle.finishRollback();
    return { verdict, polled, polls: Reason.KnownBad, action: 'finish-rollback', reconcile: counted(verdict) };
  }
  // Which commit the head gives this gateway now: not always the head (a staged rollout's wave).
  const chosen = await lifecycle.choose(commit);
  if ('reason' in chosen) return { verdict: chosen, polled, polls: 'new-commit', reconcile: counted(chosen) };
  const head = commit;
  commit = chosen.commit;
  const st = state.current;
  const next = afterPoll(st, commit, driftDue, recoverDue);
  if (next.action === 'recover') {
    const verdict = await lifecycle.recover(next.failed, next.lastGood);
    return { verdict, polled, polls: Reason.KnownBad, action: 'recover', reconcile: counted(verdict) };
  }
  if (next.action === 'skip-bad') {
    let skipLogged = job.skipLogged;
    if (skipLogged !== commit || job.reason === 'sync') {
      log.warn(
        { verdict: Reason.KnownBad, commit, reason: next.bad.reason },
        skipBadLine(head, commit, next.bad, st.applied?.commit),
      );
      skipLogged = commit;
    }
    return {
      verdict: { reason: Reason.KnownBad, commit, detail: next.bad.reason },
      polled,
      polls: Reason.KnownBad,
      action: 'skip-bad',
      ...(skipLogged ? { skipLogged } : {}),
    };
  }
  const polls = next.action === 'apply' ? 'new-commit' : Reason.Unchanged;
  if (next.action === 'nothing') return { verdict: lifecycle.settled(chosen), polled, polls, action: 'nothing' };
  const started = Date.now();
  const v = next.action === 'apply' ? await lifecycle.applyCommit(commit, chosen) : await lifecycle.repairDrift(commit);
  return {
    // Nothing drifted: what the poll says is what the gateway waits on, if anything.
    verdict: v.reason === Reason.Unchanged ? lifecycle.settled(chosen) : v,
    polled,
    polls,
    action: next.action,
    reconcile: counted(v),
    ...(v.reason !== Reason.Unchanged ? { durationS: (Date.now() - started) / 1000 } : {}),
  };
}

async function run(req: Extract<WorkerRequest, { type: 'run' }>): Promise<WorkerMessage> {
  const cfg = req.config;
  const log = agentLogger(cfg.log.level, cfg.gateway.id);
  allowPublic(cfg.gateway);
  const state = await StateStore.open(cfg.stateDir);
  if (cfg.report.url) {
    // The verdicts go to the outbox here, right after the state holds them: an agent killed before
    // it hears of them (its worker runs on) does not cost the hub a verdict. The agent sends them.
    state.onRecorded = async (appended, after) => {
      // The kill tests' point between the state, on disk with the verdict, and the outbox.
      crashPoint('state-recorded');
      try {
        await recordVerdicts(cfg.stateDir, appended, after, (events) =>
          writeOutboxEvents(outboxDir(cfg.stateDir), events),
        );
      } catch (err) {
        log.warn(
          { err: errorMessage(err) },
          `a verdict could not be written to the report outbox; the hub will not hear of it: ${errorMessage(err)}`,
        );
      }
    };
  }
  const source = agentFleetSource(cfg);
  const lifecycle = await lifecycleFor(cfg, state, source, log, req.memory);
  const job = req.job;
  let outcome: CycleOutcome;
  switch (job.kind) {
    case 'start':
      await lifecycle.resumeAtStart();
      outcome = { verdict: { reason: Reason.Unchanged } };
      break;
    case 'poll-failed':
      outcome = { verdict: await lifecycle.pollFailed(job.error) };
      break;
    case 'cycle':
      if (job.resume) {
        events().activity('applying');
        await lifecycle.resumeAtStart();
      }
      outcome = await cycle(job, lifecycle, state, source, log);
      break;
  }
  return { type: 'done', outcome, memory: lifecycle.memory() };
}

/**
 * Serves the one request the parent sends, then exits. A parent that goes away meanwhile (killed)
 * does not stop the work: the step in flight ends as it would have, the journal keeping it whole,
 * and the next agent's start kills this process at once (its process group is on record with
 * `endAtOnce`) before it resumes the journal. Exiting at the disconnect instead would only be safe
 * at a step's boundary, which is what the journal gives anyway; under systemd the unit's cgroup
 * is ended with the agent besides.
 */
export function serveWorker(): void {
  process.once('message', (req: WorkerRequest) => {
    if (req.type !== 'run') return;
    // The stop request: the work in flight runs to its end (as SIGTERM did in one process); nothing follows it.
    process.on('message', () => {});
    run(req)
      .catch((err: unknown): WorkerMessage => ({
        type: 'failed',
        name: err instanceof Error ? err.name : 'Error',
        message: errorMessage(err),
      }))
      .then(send)
      .finally(() => process.exit(0));
  });
}
