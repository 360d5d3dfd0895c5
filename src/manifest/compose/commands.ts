// What a service runs inside its container, besides its image's own: command and entrypoint, the
// lifecycle hooks (post_start, pre_stop) and the healthcheck.

import type { Healthcheck, ServiceHook } from '../../model/index.js';
import { splitCommand } from './env-file.js';
import { isMap, Reader } from './values.js';

export function parseCommand(r: Reader, k: string): string[] | undefined {
  const v = r.raw[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') {
    try {
      return splitCommand(v);
    } catch (err) {
      r.ctx.at(r.here(k), `${k}: ${(err as Error).message}`);
      return undefined;
    }
  }
  if (Array.isArray(v)) return v.map(String);
  return r.bad(k, 'a command string or a list of arguments');
}

const HOOK_KEYS = ['command', 'user', 'privileged', 'working_dir', 'environment'];

/** `post_start` / `pre_stop`: a list of { command, user, privileged, working_dir, environment }. */
export function parseHooks(r: Reader, k: 'post_start' | 'pre_stop'): ServiceHook[] | undefined {
  const v = r.raw[k];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) return r.bad(k, 'a list of hooks ({ command, user, privileged, working_dir, environment })');
  const hooks: ServiceHook[] = [];
  v.forEach((item, i) => {
    if (!isMap(item)) return void r.bad([k, i], 'a hook ({ command, ... })', item);
    const h = new Reader(r.ctx, r.here(k, i), item);
    for (const key of Object.keys(item))
      if (!HOOK_KEYS.includes(key) && !key.startsWith('x-'))
        r.ctx.at(h.here(key), `${k}: unsupported key "${key}" (expected ${HOOK_KEYS.join(', ')})`, 'key');
    const command = parseCommand(h, 'command');
    if (!command || command.length === 0) return void h.bad('command', 'a command string or a list of arguments');
    const user = h.str('user');
    const privileged = h.bool('privileged');
    const workingDir = h.str('working_dir');
    const environment = h.mapOrList('environment');
    hooks.push({
      command,
      ...(user !== undefined ? { user } : {}),
      ...(privileged ? { privileged } : {}),
      ...(workingDir !== undefined ? { workingDir } : {}),
      ...(environment && Object.keys(environment).length ? { environment } : {}),
    });
  });
  return hooks.length ? hooks : undefined;
}

export function parseHealthcheck(r: Reader): Healthcheck | undefined {
  const h = r.sub('healthcheck');
  if (!h) return undefined;
  for (const k of Object.keys(h.raw))
    if (!['test', 'interval', 'timeout', 'retries', 'start_period', 'start_interval', 'disable'].includes(k))
      h.ctx.at(h.here(k), `healthcheck: unsupported key "${k}"`, 'key');
  let test: string[] = [];
  const t = h.raw['test'];
  if (typeof t === 'string') test = ['CMD-SHELL', t];
  else if (Array.isArray(t)) {
    test = t.map(String);
    if (!['NONE', 'CMD', 'CMD-SHELL'].includes(test[0] ?? ''))
      h.ctx.at(h.here('test'), 'healthcheck test list must start with "CMD", "CMD-SHELL" or "NONE"');
  } else if (t !== undefined) h.bad('test', 'a command string or list');
  const out: Healthcheck = { test };
  const interval = h.duration('interval');
  const timeout = h.duration('timeout');
  const start = h.duration('start_period');
  const startInterval = h.duration('start_interval');
  const retries = h.num('retries', { int: true, min: 0 });
  if (interval !== undefined) out.intervalMs = interval;
  if (timeout !== undefined) out.timeoutMs = timeout;
  if (start !== undefined) out.startPeriodMs = start;
  if (startInterval !== undefined) out.startIntervalMs = startInterval;
  if (retries !== undefined) out.retries = retries;
  if (h.bool('disable')) out.disable = true;
  return out;
}
