// The rollgate Health file: checks that gate every apply, with defaults filled in.

import type { DesiredApp, HealthCheck, HealthSpec } from '../model/index.js';
import type { LoadContext } from './context.js';
import { parseDuration } from '../base/duration.js';
import type { YamlFile } from './yaml-file.js';
import { commandBreach, commandShape } from './health-command-policy.js';

export const HEALTH_DEFAULTS = {
  windowMs: 60_000,
  deadlineMs: 600_000,
  intervalMs: 5_000,
  timeoutMs: 5_000,
  failureThreshold: 3,
};

export function emptyHealth(): HealthSpec {
  return { windowMs: HEALTH_DEFAULTS.windowMs, deadlineMs: HEALTH_DEFAULTS.deadlineMs, checks: [] };
}

interface RawCheck {
  name: string;
  required?: boolean;
  interval?: string;
  timeout?: string;
  failureThreshold?: number;
  http?: { url: string; expectStatus?: number | number[] };
  tcp?: { host?: string; port: number };
  command?: { argv: string[] };
  container?: { app: string; service: string; condition?: 'running' | 'healthy' };
}

export function loadHealth(ctx: LoadContext, y: YamlFile, apps: DesiredApp[]): HealthSpec {
  const doc = y.value as {
    window?: string;
    deadline?: string;
    defaults?: { interval?: string; timeout?: string; failureThreshold?: number };
    checks: RawCheck[];
  };
  const ms = (s: string | undefined, dflt: number) => (s === undefined ? dflt : (parseDuration(s) ?? dflt));
  // Beyond a timer's reach (about 24.8 days) Node fires at once: a window that long would end, and
  // fail, in milliseconds. Every duration is bounded well inside that.
  const bounded = (path: (string | number)[], s: string | undefined, max: number, maxText: string) => {
    if (s === undefined) return;
    const v = parseDuration(s);
    if (v === undefined) return;
    if (v > max) ctx.at({ y, path }, `${path.join('.')}: ${s} is longer than ${maxText}, the most a health gate waits`);
    else if (v === 0 && path.at(-1) !== 'window') ctx.at({ y, path }, `${path.join('.')}: must be longer than 0`);
  };
  const DAY = 86_400_000;
  const HOUR = 3_600_000;
  bounded(['window'], doc.window, DAY, '24h');
  bounded(['deadline'], doc.deadline, DAY, '24h');
  bounded(['defaults', 'interval'], doc.defaults?.interval, HOUR, '1h');
  bounded(['defaults', 'timeout'], doc.defaults?.timeout, HOUR, '1h');
  doc.checks.forEach((c, i) => {
    bounded(['checks', i, 'interval'], c.interval, HOUR, '1h');
    bounded(['checks', i, 'timeout'], c.timeout, HOUR, '1h');
  });
  const windowMs = ms(doc.window, HEALTH_DEFAULTS.windowMs);
  const deadlineMs = ms(doc.deadline, Math.max(HEALTH_DEFAULTS.deadlineMs, windowMs * 2));
  if (deadlineMs < windowMs)
    ctx.at(
      { y, path: ['deadline'] },
      `deadline (${doc.deadline}) is shorter than the window (${doc.window ?? '60s'}); the health gate could ` +
        `never pass`,
    );
  const d = doc.defaults ?? {};
  const names = new Set<string>();
  const checks: HealthCheck[] = [];
  doc.checks.forEach((c, i) => {
    const at = { y, path: ['checks', i] };
    if (names.has(c.name)) ctx.at({ y, path: ['checks', i, 'name'] }, `check name "${c.name}" is used twice`);
    names.add(c.name);
    const kinds = (['http', 'tcp', 'command', 'container'] as const).filter((k) => c[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.at(
        at,
        `a check has exactly one of http, tcp, command, container; "${c.name}" ` +
          `has ${kinds.length === 0 ? 'none' : kinds.join(' and ')}`,
      );
      return;
    }
    const base = {
      name: c.name,
      required: c.required ?? true,
      intervalMs: ms(c.interval ?? d.interval, HEALTH_DEFAULTS.intervalMs),
      timeoutMs: ms(c.timeout ?? d.timeout, HEALTH_DEFAULTS.timeoutMs),
      failureThreshold: c.failureThreshold ?? d.failureThreshold ?? HEALTH_DEFAULTS.failureThreshold,
    };
    if (c.http) {
      const es = c.http.expectStatus;
      checks.push({
        ...base,
        kind: 'http',
        url: c.http.url,
        expectStatus: es === undefined ? [200] : Array.isArray(es) ? es : [es],
      });
    } else if (c.tcp) {
      checks.push({ ...base, kind: 'tcp', host: c.tcp.host ?? '127.0.0.1', port: c.tcp.port });
    } else if (c.command) {
      // Run as root on the host: never a file of the fleet repo, whatever the policy (safety rule 9).
      const shape = commandShape(c.command.argv[0] ?? '', ctx.stateDir);
      if (shape) ctx.at({ y, path: ['checks', i, 'command', 'argv', 0] }, shape);
      const breach = ctx.policy && !shape ? commandBreach(c.command.argv, ctx.policy) : undefined;
      if (breach) ctx.breach({ y, path: ['checks', i, 'command', 'argv'] }, 'policy.healthCommands', breach);
      checks.push({ ...base, kind: 'command', argv: c.command.argv });
    } else if (c.container) {
      const { app, service } = c.container;
      const a = apps.find((x) => x.name === app);
      const condition = c.container.condition ?? 'running';
      if (!a)
        ctx.at(
          { y, path: ['checks', i, 'container', 'app'] },
          `check "${c.name}" names app "${app}", which this system does not run ` +
            `(apps: ${apps.map((x) => x.name).join(', ') || 'none'})`,
        );
      else {
        const svc = a.services.find((s) => s.name === service);
        if (!svc)
          ctx.at(
            { y, path: ['checks', i, 'container', 'service'] },
            `check "${c.name}" names service "${service}", which app "${app}" does not define`,
          );
        else if (condition === 'healthy' && !svc.config.healthcheck)
          ctx.at(
            { y, path: ['checks', i, 'container', 'condition'] },
            `check "${c.name}" waits for "${app}/${service}" to be healthy, but it has no healthcheck`,
          );
      }
      checks.push({ ...base, kind: 'container', app, service, condition });
    }
  });
  return { windowMs, deadlineMs, checks };
}
