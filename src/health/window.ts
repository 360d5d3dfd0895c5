// The health gate after an apply: every check runs on its own interval; the gate passes once
// every required check has held for the whole window, and fails as soon as a required check
// fails `failureThreshold` times in a row, or when the deadline comes first. Advisory checks are
// reported, never decisive. Waiting too long is a failure, never a hang.

import type { HealthSpec } from '../model/index.js';
import { Log } from '../base/log.js';
import { probe, type ProbeEnv, type ProbeResult } from './probes.js';

export interface CheckTally {
  name: string;
  required: boolean;
  passes: number;
  failures: number;
  consecutiveFailures: number;
  last?: ProbeResult;
}

export interface HealthVerdict {
  ok: boolean;
  /** Why the gate failed, naming the check and what it saw. */
  reason?: string;
  /** Advisory checks whose last probe failed. */
  warnings: string[];
  checks: CheckTally[];
  elapsedMs: number;
}

export class HealthFailedError extends Error {
  override name = 'HealthFailedError';
  constructor(readonly verdict: HealthVerdict) {
    super(`health check failed: ${verdict.reason}`);
  }
}

export interface WindowOptions {
  log: Log;
  /** Aborting ends the window as a failure ("interrupted"). */
  signal?: AbortSignal;
  /** A label for log lines, e.g. the commit. */
  subject?: string;
}

const secs = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms} ms`);

export function healthWindow(spec: HealthSpec, env: ProbeEnv, opts: WindowOptions): Promise<HealthVerdict> {
  const start = Date.now();
  const tallies: CheckTally[] = spec.checks.map((c) => ({
    name: c.name,
    required: c.required,
    passes: 0,
    failures: 0,
    consecutiveFailures: 0,
  }));
  const required = tallies.filter((t) => t.required);
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
    return t;
  };
  const subject = opts.subject ? ` of ${opts.subject}` : '';

  return new Promise<HealthVerdict>((resolve) => {
    let finished = false;
    let windowTimer: NodeJS.Timeout | undefined;
    const finish = (ok: boolean, reason?: string) => {
      if (finished) return;
      finished = true;
      for (const t of timers) clearTimeout(t);
      opts.signal?.removeEventListener('abort', onAbort);
      const warnings = tallies
        .filter((t) => !t.required && t.last && !t.last.ok)
        .map((t) => `${t.name}: ${t.last!.detail}`);
      const verdict: HealthVerdict = {
        ok,
        ...(reason ? { reason } : {}),
        warnings,
        checks: tallies,
        elapsedMs: Date.now() - start,
      };
      if (ok)
        opts.log.info(
          { checks: tallies.length, warnings },
          `health${subject} passed: ${required.length} required check(s) held ` +
            `for ${secs(spec.windowMs)}${warnings.length ? `; advisory failing: ${warnings.join('; ')}` : ''}`,
        );
      else opts.log.error({ reason }, `health${subject} failed: ${reason}`);
      resolve(verdict);
    };
    const onAbort = () => finish(false, 'the health window was interrupted (the agent is stopping)');
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort);
    if (spec.checks.length === 0) return finish(true);

    let stableSince: number | undefined;
    const evaluate = () => {
      if (required.every((t) => t.last?.ok)) {
        if (stableSince === undefined) {
          stableSince = Date.now();
          windowTimer = later(spec.windowMs, () => finish(true));
        }
      } else if (stableSince !== undefined) {
        stableSince = undefined;
        if (windowTimer) clearTimeout(windowTimer);
        timers.delete(windowTimer!);
      }
    };
    later(spec.deadlineMs, () => {
      const failing = tallies
        .filter((t) => t.required && !t.last?.ok)
        .map((t) => `${t.name}: ${t.last?.detail ?? 'no answer yet'}`);
      finish(
        false,
        `the required checks did not hold for ${secs(spec.windowMs)} within the deadline ` +
          `of ${secs(spec.deadlineMs)}` +
          (failing.length ? ` (failing: ${failing.join('; ')})` : ' (they kept failing and recovering)'),
      );
    });
    if (required.length === 0) windowTimer = later(spec.windowMs, () => finish(true));

    spec.checks.forEach((check, i) => {
      const tally = tallies[i]!;
      const run = async () => {
        if (finished) return;
        const r = await probe(check, env);
        if (finished) return;
        const wasOk = tally.last?.ok;
        const wasPending = tally.last?.pending === true;
        tally.last = r;
        if (r.ok) {
          tally.passes++;
          tally.consecutiveFailures = 0;
          if (wasOk === false)
            opts.log.info({ check: check.name }, `health check ${check.name} passes again: ${r.detail}`);
        } else if (r.pending) {
          // Undecided (a healthcheck still starting): the window cannot hold yet, and only the deadline fails it.
          if (!wasPending) opts.log.info({ check: check.name }, `health check ${check.name} waits: ${r.detail}`);
        } else {
          tally.failures++;
          tally.consecutiveFailures++;
          opts.log.warn(
            {
              check: check.name,
              required: check.required,
              failures: tally.consecutiveFailures,
              threshold: check.failureThreshold,
            },
            `health check ${check.name}${check.required ? '' : ' (advisory)'} failed ` +
              `(${tally.consecutiveFailures}/${check.failureThreshold}): ${r.detail}`,
          );
          if (check.required && tally.consecutiveFailures >= check.failureThreshold) {
            return finish(false, `${check.name} failed ${tally.consecutiveFailures} time(s) in a row: ${r.detail}`);
          }
        }
        evaluate();
        later(check.intervalMs, () => void run());
      };
      void run();
    });
  });
}
