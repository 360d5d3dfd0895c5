// depends_on conditions: a service starts only once the services it waits for are healthy (or
// completed). Every wait has a deadline; reaching it is a failure that names both services.

import type { Engine } from './engine.js';
import { DockerError } from './errors.js';
import { LABEL } from './labels.js';
import { healthFromStatus } from './observe.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DesiredService } from '../../model/index.js';

// Docker's own healthcheck defaults.
const DEFAULT_INTERVAL = 30_000;
const DEFAULT_TIMEOUT = 30_000;
const DEFAULT_RETRIES = 3;

/** Long enough for the dependency's healthcheck to decide either way, plus a margin. */
export function healthyDeadlineMs(dep: DesiredService): number {
  const hc = dep.config.healthcheck;
  const interval = hc?.intervalMs ?? DEFAULT_INTERVAL;
  const timeout = hc?.timeoutMs ?? DEFAULT_TIMEOUT;
  return (hc?.startPeriodMs ?? 0) + ((hc?.retries ?? DEFAULT_RETRIES) + 1) * (interval + timeout) + 5_000;
}

export interface WaitTarget {
  app: string;
  /** The service that waits. */
  service: string;
  dependency: DesiredService;
  condition: string;
  deadlineMs: number;
}

export async function waitForDependency(engine: Engine, t: WaitTarget): Promise<void> {
  const { app, dependency: dep } = t;
  const who = `${app}/${t.service}`;
  const what = `${app}/${dep.name}`;
  const until = Date.now() + t.deadlineMs;
  const filters = JSON.stringify({
    label: [`${LABEL.app}=${app}`, `${LABEL.service}=${dep.name}`, `${LABEL.configHash}=${dep.configHash}`],
  });
  for (;;) {
    const list = await engine.call((d) => d.listContainers({ all: true, filters }));
    const running = list.find((c) => c.State === 'running');
    const c = running ?? list[0];
    if (t.condition === 'service_healthy' && running) {
      const h = healthFromStatus(running.Status ?? '');
      if (h === 'healthy') return;
      if (h === undefined)
        throw new DockerError(
          'dependency',
          `${who} waits for ${what} to be healthy (depends_on: service_healthy), but ${what} has no ` +
            `healthcheck, neither in the Compose file nor in its image`,
        );
      if (h === 'unhealthy')
        throw new DockerError(
          'dependency',
          `${what} is unhealthy, and ${who} waits for it to be healthy (depends_on: service_healthy)`,
        );
    }
    if (t.condition === 'service_completed_successfully' && c && c.State === 'exited') {
      const info = await engine.call((d) => d.getContainer(c.Id).inspect());
      if (info.State.ExitCode === 0) return;
      throw new DockerError(
        'dependency',
        `${what} exited with code ${info.State.ExitCode}, and ${who} waits for it to complete successfully`,
      );
    }
    // With a restart policy the Engine brings it back (it may be restarting itself): keep waiting.
    if (
      t.condition === 'service_healthy' &&
      c &&
      !running &&
      (c.State === 'exited' || c.State === 'dead') &&
      dep.config.restart === 'no'
    ) {
      throw new DockerError(
        'dependency',
        `${what} is ${c.State}, and ${who} waits for it to be healthy (depends_on: service_healthy)`,
      );
    }
    if (Date.now() > until) {
      throw new DockerError(
        'dependency',
        `${what} did not become ${t.condition === 'service_healthy' ? 'healthy' : 'complete'} ` +
          `within ${Math.round(t.deadlineMs / 1000)} s, and ${who} waits for it`,
      );
    }
    await sleep(250);
  }
}

/**
 * start-first: the new container is ready once it runs and, when it has a healthcheck (from the
 * Compose file or its image), is healthy. Only then does the container it replaces stop.
 */
export async function waitReady(
  engine: Engine,
  t: { app: string; service: string; containerId: string; deadlineMs: number },
): Promise<void> {
  const who = `${t.app}/${t.service}`;
  const until = Date.now() + t.deadlineMs;
  for (;;) {
    const info = await engine.call((d) => d.getContainer(t.containerId).inspect());
    const health = info.State.Health?.Status;
    if (info.State.Running && (health === undefined || health === 'none' || health === 'healthy')) return;
    if (health === 'unhealthy')
      throw new DockerError(
        'dependency',
        `the new container of ${who} is unhealthy, so its previous container keeps running (start-first)`,
      );
    if (!info.State.Running && !info.State.Restarting)
      throw new DockerError(
        'dependency',
        `the new container of ${who} exited with code ${info.State.ExitCode}, so its previous container keeps ` +
          `running (start-first)`,
      );
    if (Date.now() > until)
      throw new DockerError(
        'dependency',
        `the new container of ${who} was not ready within ${Math.round(t.deadlineMs / 1000)} s, so its previous ` +
          `container keeps running (start-first)`,
      );
    await sleep(250);
  }
}
