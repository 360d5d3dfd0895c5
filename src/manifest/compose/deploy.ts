// How a service is run and replaced: `deploy:` (one replica, resources, restart policy, update
// order), `restart:` and `pull_policy:`.

import type { PullPolicy, Resources, RestartPolicy } from '../../model/index.js';
import { checkKeys, DEPLOY_KEYS } from './keys.js';
import type { ServiceScope } from './service.js';
import { parseComposeDuration, type Reader } from './values.js';

export function parseRestart(r: Reader): { restart: RestartPolicy; restartMaxRetries?: number } {
  const s = r.str('restart');
  if (s === undefined) return { restart: 'no' };
  const m = /^(no|always|unless-stopped|on-failure)(?::([0-9]+))?$/.exec(s);
  if (!m || (m[2] !== undefined && m[1] !== 'on-failure')) {
    r.bad('restart', '"no", "always", "on-failure", "on-failure:<retries>" or "unless-stopped"');
    return { restart: 'no' };
  }
  return { restart: m[1] as RestartPolicy, ...(m[2] !== undefined ? { restartMaxRetries: Number(m[2]) } : {}) };
}

const RESOURCE_KEYS = ['cpus', 'memory', 'pids', 'devices', 'generic_resources'];

export function parseDeploy(
  r: Reader,
  scope: ServiceScope,
  res: Resources,
  restart: { restart: RestartPolicy; restartMaxRetries?: number },
): 'start-first' | 'stop-first' | undefined {
  const d = r.sub('deploy');
  if (!d) return undefined;
  checkKeys(d, DEPLOY_KEYS, 'deploy', scope.warn);
  const mode = d.str('mode');
  if (mode !== undefined && mode !== 'replicated' && mode !== 'global')
    d.ctx.at(
      d.here('mode'),
      `deploy.mode "${mode}" is not supported: a gateway runs one long-running container per service ` +
        `(replicated or global)`,
    );
  const replicas = d.num('replicas', { int: true, min: 0 });
  if (replicas !== undefined && replicas !== 1)
    d.ctx.at(
      d.here('replicas'),
      `deploy.replicas: ${replicas} is not supported: a gateway runs exactly one container per service (several ` +
        `replicas would share its ports, container_name and devices)`,
    );
  const resources = d.sub('resources');
  if (resources) {
    for (const k of Object.keys(resources.raw))
      if (k !== 'limits' && k !== 'reservations')
        resources.ctx.at(
          resources.here(k),
          `deploy.resources: unsupported key "${k}" (expected limits, reservations)`,
          'key',
        );
    for (const which of ['limits', 'reservations'] as const) {
      const l = resources.sub(which);
      if (!l) continue;
      for (const k of Object.keys(l.raw)) {
        if (!RESOURCE_KEYS.includes(k))
          l.ctx.at(
            l.here(k),
            `deploy.resources.${which}: unsupported key "${k}" (expected cpus, ` +
              `memory${which === 'limits' ? ', ' + 'pids' : ''})`,
            'key',
          );
        else if (k === 'devices' || k === 'generic_resources')
          l.ctx.at(
            l.here(k),
            `deploy.resources.${which}.${k}: device requests (GPUs) are not supported; use "devices" for a device node`,
            'key',
          );
        else if (k === 'pids' && which === 'reservations')
          l.ctx.at(
            l.here(k),
            'deploy.resources.reservations.pids: a process count cannot be reserved; use limits.pids',
            'key',
          );
      }
      const cpus = l.num('cpus', { min: 0 });
      const mem = l.bytes('memory');
      if (which === 'limits') {
        if (cpus !== undefined) res.nanoCpus = Math.round(cpus * 1e9);
        if (mem !== undefined) res.memoryBytes = mem;
        const pids = l.num('pids', { int: true });
        if (pids !== undefined) res.pidsLimit = pids;
      } else {
        if (mem !== undefined) res.memoryReservationBytes = mem;
        // The Engine has no CPU reservation for one container; the nearest is its CPU share weight.
        if (cpus !== undefined) res.cpuShares = Math.max(2, Math.round(cpus * 1024));
      }
    }
  }
  const rp = d.sub('restart_policy');
  if (rp) {
    for (const k of Object.keys(rp.raw)) {
      if (k === 'delay' || k === 'window')
        scope.warn(
          rp.here(k),
          `deploy.restart_policy.${k} is accepted and has no effect: the Engine restarts a container with its ` +
            `own back-off`,
        );
      else if (k !== 'condition' && k !== 'max_attempts')
        rp.ctx.at(rp.here(k), `deploy.restart_policy: unsupported key "${k}"`, 'key');
    }
    const cond = rp.str('condition') ?? 'any';
    const map: Record<string, RestartPolicy> = { none: 'no', 'on-failure': 'on-failure', any: 'always' };
    if (!map[cond]) rp.bad('condition', 'none, on-failure or any');
    else restart.restart = map[cond]!;
    const max = rp.num('max_attempts', { int: true, min: 0 });
    if (max !== undefined && restart.restart === 'on-failure') restart.restartMaxRetries = max;
    else if (max !== undefined)
      rp.ctx.at(
        rp.here('max_attempts'),
        'deploy.restart_policy.max_attempts needs condition: on-failure (the Engine counts retries only then)',
      );
  }
  const uc = d.sub('update_config');
  let order: 'start-first' | 'stop-first' | undefined;
  if (uc) {
    for (const k of Object.keys(uc.raw)) {
      if (['parallelism', 'delay', 'failure_action', 'monitor', 'max_failure_ratio'].includes(k))
        scope.warn(
          uc.here(k),
          `deploy.update_config.${k} is accepted and has no effect: rollgate updates one gateway as one ` +
            `transaction, and its health window and rollback decide`,
        );
      else if (k !== 'order') uc.ctx.at(uc.here(k), `deploy.update_config: unsupported key "${k}"`, 'key');
    }
    const o = uc.str('order');
    if (o !== undefined && o !== 'start-first' && o !== 'stop-first') uc.bad('order', 'start-first or stop-first');
    else order = o;
  }
  return order;
}

export function parsePullPolicy(r: Reader): PullPolicy | undefined {
  const p = r.str('pull_policy');
  if (p === undefined) return undefined;
  if (p === 'missing' || p === 'if_not_present') return 'missing';
  if (p === 'always' || p === 'never') return p;
  if (p === 'daily') return { everyMs: 86_400_000 };
  if (p === 'weekly') return { everyMs: 7 * 86_400_000 };
  const every = /^every_(.+)$/.exec(p);
  const ms = every ? parseComposeDuration(every[1]!) : undefined;
  if (ms !== undefined && ms > 0) return { everyMs: ms };
  if (p === 'build') {
    r.ctx.at(
      r.here('pull_policy'),
      'pull_policy "build" builds the image from source, and a gateway pulls released images from a registry',
    );
    return undefined;
  }
  return r.bad('pull_policy', 'always, missing, never, daily, weekly or every_<duration> (e.g. every_12h)');
}
