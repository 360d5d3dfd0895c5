// The agent's wiring of the commit lifecycle's ports: commits are read from the fleet source's
// git objects with the gateway's variables, appliers come from one Gateway built at start, the
// health window probes the containers the Engine reports.

import type { GatewayAppliers } from '../apply/index.js';
import type { Log } from '../base/log.js';
import { durationMs, parseSize } from '../base/duration.js';
import { Gateway, readVariables } from '../gateway/gateway.js';
import { gatewayOptions } from './gateway-options.js';
import { configHashesOf, dockerContainerStates, healthWindow, type ProbeEnv } from '../health/index.js';
import { findTarget, GitObjectSource, loadDesiredState, readFleet, windowOfTarget } from '../manifest/index.js';
import { refreshableImages } from '../apply/index.js';
import type { DesiredState } from '../model/index.js';
import type { LifecycleEvents, LifecyclePorts, StatePort } from '../lifecycle/index.js';
import { readRolloutState } from '../rollout/index.js';
import {
  checkCommit,
  commitShape,
  committedAt,
  descendsFrom,
  NO_KEYS,
  signedBy,
  type DecryptionKeys,
  type TrustedKeys,
} from '../trust/index.js';
import { DecryptingSource } from '../gateway/decrypting-source.js';
import { systemClock } from './clock.js';
import type { AgentConfig } from './config.js';
import { fleetSource, type FleetSource } from './fleet-source.js';
import { shortCommit } from '../base/short-commit.js';

export function agentFleetSource(cfg: AgentConfig): FleetSource {
  const r = cfg.repo;
  return fleetSource({
    url: r.url,
    ref: r.ref,
    stateDir: cfg.stateDir,
    timeoutMs: durationMs(r.timeout, 'repo.timeout'),
    allowPlainHttpAuth: r.allowPlainHttpAuth,
    maxFetchBytes: parseSize(r.maxFetchSize, 'repo.maxFetchSize'),
    ...(r.caFile !== undefined ? { caFile: r.caFile } : {}),
    ...(r.tokenFile
      ? { auth: { kind: 'token' as const, file: r.tokenFile } }
      : r.basicAuthFile
        ? { auth: { kind: 'basic' as const, file: r.basicAuthFile } }
        : {}),
  });
}

function probeEnv(desired: DesiredState, a: GatewayAppliers, cfg: AgentConfig): ProbeEnv {
  return {
    stateDir: cfg.stateDir,
    ...(cfg.policy ? { policy: cfg.policy } : {}),
    configHashes: configHashesOf(desired),
    ...(a.docker ? { containers: dockerContainerStates(a.docker.engine) } : {}),
  };
}

export function lifecyclePorts(o: {
  cfg: AgentConfig;
  source: FleetSource;
  store: StatePort;
  log: Log;
  events: LifecycleEvents;
  /** Read at start (`readTrustedKeys`); absent: no keys configured. */
  trusted?: TrustedKeys;
  /** trust.promoterKeys, read at start: keys that may sign a rollout step alone. */
  promoterKeys?: TrustedKeys;
  /** The agent's one Gateway; made here when not given. */
  gateway?: Gateway;
  /** secrets.keyFiles, read at start; absent or empty: an encrypted file is refused. */
  decryptionKeys?: DecryptionKeys;
}): LifecyclePorts {
  const { cfg, source, log } = o;
  const gateway = o.gateway ?? new Gateway(gatewayOptions(cfg), log);
  const identity = { id: cfg.gateway.id, labels: cfg.gateway.labels };
  /** When each pull_policy image was last asked about in the registry (a period counts from it). */
  const resolvedAt = new Map<string, number>();
  const scriptTimeouts = {
    timeoutMs: durationMs(cfg.stateScripts.timeout, 'stateScripts.timeout'),
    retryIntervalMs: durationMs(cfg.stateScripts.retryInterval, 'stateScripts.retryInterval'),
    retryTimeoutMs: durationMs(cfg.stateScripts.retryTimeout, 'stateScripts.retryTimeout'),
  };
  return {
    scriptTimeouts,
    store: o.store,
    stateDir: cfg.stateDir,
    concurrency: cfg.apply.concurrency,
    log,
    events: o.events,
    load: async (commit) => {
      const repo = new DecryptingSource(new GitObjectSource(source.gitdir, commit), o.decryptionKeys ?? NO_KEYS);
      const variables = cfg.gateway.variablesFile ? await readVariables([cfg.gateway.variablesFile]) : {};
      const desired = await loadDesiredState(repo, identity, {
        variables,
        stateDir: cfg.stateDir,
        ...(cfg.policy ? { policy: cfg.policy } : {}),
      });
      for (const w of desired.warnings ?? []) log.warn({ commit: shortCommit(commit) }, w);
      return { desired, repo };
    },
    repoAt: (commit) => new GitObjectSource(source.gitdir, commit),
    verify: (commit) =>
      checkCommit(source.gitdir, commit, undefined, {
        ...(o.trusted ? { policy: { keys: o.trusted, mode: cfg.trust.mode } } : {}),
        allowRewrite: cfg.trust.allowRewrite,
        ...(source.tagsAt ? { tagsAt: source.tagsAt } : {}),
      }),
    ...(o.promoterKeys
      ? {
          promoterSigner: (commit: string) => signedBy(source.gitdir, commit, o.promoterKeys!),
          // A shallow store may lack the parent of a new head: one more commit of history is fetched then.
          commitShape: (commit: string) =>
            commitShape(source.gitdir, commit).catch(async (err: unknown) => {
              if (!source.deepen) throw err;
              await source.deepen(2);
              return commitShape(source.gitdir, commit);
            }),
        }
      : {}),
    descends: (commit, ancestor) =>
      descendsFrom(source.gitdir, commit, ancestor, source.deepen ? { deepen: source.deepen } : {}),
    allowRewrite: cfg.trust.allowRewrite,
    gateway: identity,
    // Both read git objects already in the store: the head's, fetched by the poll that found it, and
    // the target's, which the rollout gate reached (fetching history) when it checked its descent.
    rolloutState: (commit) => readRolloutState(new GitObjectSource(source.gitdir, commit)),
    rolloutPolicy: async (commit) => {
      const { fleet, rollout } = await readFleet(new GitObjectSource(source.gitdir, commit));
      const t = findTarget(fleet, identity);
      return { rollout, ...(t >= 0 ? { target: fleet.targets[t]!.name } : {}) };
    },
    // A target that matches no gateway is the policy gate's to report (config-error): no window then.
    maintenanceWindow: async (commit) => {
      const { fleet } = await readFleet(new GitObjectSource(source.gitdir, commit));
      const t = findTarget(fleet, identity);
      return t >= 0 ? windowOfTarget(fleet, t) : undefined;
    },
    clock: systemClock(),
    commitTime: (commit) => committedAt(source.gitdir, commit),
    pin: (role, commit) => source.pin(role, commit),
    appliers: (desired, repo) => gateway.appliers(desired, repo),
    health: (desired, a, subject) => healthWindow(desired.health, probeEnv(desired, a, cfg), { log, subject }),
    dueImages: (desired) => {
      const at = Date.now();
      const due = refreshableImages(
        desired,
        (image, everyMs) => everyMs === undefined || at - (resolvedAt.get(image) ?? 0) >= everyMs,
      );
      for (const image of due) resolvedAt.set(image, at);
      return due;
    },
  };
}
