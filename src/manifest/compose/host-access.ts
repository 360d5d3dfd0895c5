// What a service takes from the host or from another container, checked for shape here (the
// policy judges whether it may): device nodes, namespaces joined, the volumes of another container,
// and ulimits.

import type { ServiceConfig } from '../../model/index.js';
import type { ServiceScope } from './service.js';
import { isMap, Reader } from './values.js';

export function parseDevices(r: Reader): string[] {
  const raw = r.raw['devices'];
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) return r.bad('devices', 'a list of devices') ?? [];
  const out: string[] = [];
  raw.forEach((d: unknown, i) => {
    if (isMap(d)) {
      const o = new Reader(r.ctx, r.here('devices', i), d);
      const src = o.str('source');
      if (!src) return void r.ctx.at(o.at, 'devices: a "source" device path is needed');
      out.push([src, o.str('target') ?? src, o.str('permissions') ?? 'rwm'].join(':'));
    } else if (typeof d === 'string') {
      if (d.includes('\0'))
        return void r.ctx.at(r.here('devices', i), `devices: ${JSON.stringify(d)} contains a NUL character`);
      if (!d.startsWith('/'))
        return void r.ctx.at(
          r.here('devices', i),
          `devices: ${JSON.stringify(d)} is not a device path (CDI device names are not supported)`,
        );
      out.push(d);
    } else r.bad(['devices', i], 'a device path string', d);
  });
  return out;
}

/**
 * The modes the Engine takes for each namespace key; `container:<name>` where a container's may
 * be joined. Anything else would reach the Engine only to fail at create, half-way into an apply.
 */
const NAMESPACE_MODES = {
  pid: { modes: ['host'], joins: true },
  ipc: { modes: ['none', 'private', 'shareable', 'host'], joins: true },
  uts: { modes: ['host'], joins: false },
  userns_mode: { modes: ['host'], joins: false },
  cgroup: { modes: ['host', 'private'], joins: false },
} as const;
const CONTAINER_REF = /^container:[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function namespaceMode(r: Reader, key: keyof typeof NAMESPACE_MODES): string | undefined {
  const v = r.str(key);
  if (v === undefined) return undefined;
  const { modes, joins } = NAMESPACE_MODES[key];
  if ((modes as readonly string[]).includes(v) || (joins && CONTAINER_REF.test(v))) return v;
  const expected = [...modes, ...(joins ? ['container:<name>'] : [])].join(', ');
  r.ctx.at(
    r.here(key),
    `${key} ${JSON.stringify(v)} is not supported (expected ${expected})` +
      (v.startsWith('service:')
        ? "; a service's container, and with it its namespace, changes with every update of that service"
        : ''),
  );
  // Still judged by the policy, which names what it would have reached.
  return v;
}

/**
 * `volumes_from`: `service[:ro|:rw]`, a service of this file (as Compose requires), or
 * `container:name[:ro|:rw]`. The applier looks the service up among its own containers.
 */
export function parseVolumesFrom(r: Reader, name: string, scope: ServiceScope): string[] | undefined {
  const list = r.list('volumes_from');
  if (!list?.length) return undefined;
  list.forEach((v, i) => {
    const m = /^(container:)?([a-zA-Z0-9][a-zA-Z0-9_.-]*)(?::(ro|rw))?$/.exec(v);
    if (!m)
      r.ctx.at(
        r.here('volumes_from', i),
        `volumes_from: expected "service", "service:ro", "container:name" or "container:name:ro", ` +
          `got ${JSON.stringify(v)}`,
      );
    else if (!m[1] && m[2] === name) r.ctx.at(r.here('volumes_from', i), `service "${name}" takes volumes from itself`);
    else if (!m[1] && !scope.serviceNames.has(m[2]!))
      r.ctx.at(
        r.here('volumes_from', i),
        `volumes_from: service "${m[2]}" is not a service of this file (a container outside it is ` +
          `"container:<name>")`,
      );
  });
  return list;
}

export function parseUlimits(r: Reader): ServiceConfig['ulimits'] {
  const u = r.sub('ulimits');
  if (!u) return undefined;
  const out: NonNullable<ServiceConfig['ulimits']> = {};
  for (const [name, v] of Object.entries(u.raw)) {
    if (isMap(v)) {
      const o = new Reader(r.ctx, u.here(name), v);
      const soft = o.num('soft', { int: true });
      const hard = o.num('hard', { int: true });
      if (soft === undefined || hard === undefined)
        r.ctx.at(o.at, `ulimits.${name}: expected a number, or both "soft" and "hard"`);
      else out[name] = { soft, hard };
    } else {
      const n = u.num(name, { int: true });
      if (n !== undefined) out[name] = { soft: n, hard: n };
    }
  }
  return Object.keys(out).length ? out : undefined;
}
