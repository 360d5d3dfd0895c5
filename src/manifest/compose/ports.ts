// A service's ports: published (`ports:`, short and long syntax, ranges) and exposed (`expose:`).

import type { PortMapping } from '../../model/index.js';
import type { At } from '../context.js';
import { isMap, Reader, unique } from './values.js';

/** `where`, when given, gets the index in `ports:` each mapping returned was written at. */
export function parsePorts(r: Reader, unsetNote: (at: At) => string, where: number[] = []): PortMapping[] {
  const raw = r.raw['ports'];
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) return r.bad('ports', 'a list of ports') ?? [];
  const out: PortMapping[] = [];
  raw.forEach((p: unknown, i) => {
    const at = r.here('ports', i);
    if (isMap(p)) {
      const o = new Reader(r.ctx, at, p);
      for (const k of Object.keys(p))
        if (!['target', 'published', 'host_ip', 'protocol', 'mode', 'name', 'app_protocol'].includes(k))
          r.ctx.at(o.here(k), `ports: unsupported key "${k}"`, 'key');
      const target = o.num('target', { int: true, min: 1, max: 65535 });
      const protocol = o.str('protocol') ?? 'tcp';
      const mode = o.str('mode');
      if (mode !== undefined && mode !== 'host' && mode !== 'ingress') o.bad('mode', '"host" or "ingress"');
      if (!['tcp', 'udp', 'sctp'].includes(protocol)) return void o.bad('protocol', 'tcp, udp or sctp');
      if (target === undefined) return void r.ctx.at(at, 'ports: a "target" port is needed');
      const published = o.str('published');
      const hostIp = o.str('host_ip');
      const hosts = published === undefined || published === '' ? [undefined] : portRange(published);
      if (!hosts) return void o.bad('published', 'a port or a range like 8000-8010');
      if (hosts.length > 1) return void o.bad('published', 'a single port for one target port');
      where.push(i);
      out.push({
        containerPort: target,
        protocol: protocol as PortMapping['protocol'],
        ...(hosts[0] !== undefined ? { hostPort: hosts[0] } : {}),
        ...(hostIp ? { hostIp } : {}),
      });
      return;
    }
    if (typeof p !== 'string' && typeof p !== 'number') return void r.bad(['ports', i], 'a port string or mapping', p);
    const s = String(p);
    const m = new RegExp(
      String.raw`^(?:(?:(\[[0-9a-fA-F:.]+\]|[0-9.]+|[0-9a-fA-F:]+::?[0-9a-fA-F:]*):)?([0-9]+(?:-[0-9]` +
        String.raw`+)?)?:)?([0-9]+(?:-[0-9]+)?)(?:\/(tcp|udp|sctp))?$`,
    ).exec(s);
    const inner = m ? portRange(m[3]!) : undefined;
    const outer = m?.[2] ? portRange(m[2]) : [undefined];
    if (
      !m ||
      !inner ||
      !outer ||
      (outer.length > 1 && outer.length !== inner.length) ||
      (outer.length === 1 && outer[0] !== undefined && inner.length > 1)
    ) {
      r.ctx.at(
        at,
        `ports: expected a port like "8080:80", "127.0.0.1:8080:80/udp", "8000-8010:8000-8010" or "80", ` +
          `got ${JSON.stringify(s)}${unsetNote(at)}`,
      );
      return;
    }
    const hostIp = m[1]?.replace(/^\[|\]$/g, '');
    inner.forEach((c, k) => {
      const hostPort = outer.length > 1 ? outer[k] : outer[0];
      where.push(i);
      out.push({
        containerPort: c!,
        protocol: (m[4] as PortMapping['protocol'] | undefined) ?? 'tcp',
        ...(hostPort !== undefined ? { hostPort } : {}),
        ...(hostIp ? { hostIp } : {}),
      });
    });
  });
  // Compose merges identical bindings ("1883:1883" twice is one binding), keeping the first one's place.
  return unique(out, (p) => `${p.hostIp ?? '0.0.0.0'}:${p.hostPort ?? ''}:${p.containerPort}/${p.protocol}`, where);
}

function portRange(s: string): number[] | undefined {
  const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(s.trim());
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (a < 1 || b > 65535 || b < a || b - a > 1000) return undefined;
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

export function parseExpose(r: Reader): string[] | undefined {
  const list = r.list('expose');
  if (!list) return undefined;
  const out: string[] = [];
  list.forEach((e, i) => {
    const m = /^([0-9]+(?:-[0-9]+)?)(?:\/(tcp|udp|sctp))?$/.exec(e);
    const range = m ? portRange(m[1]!) : undefined;
    if (!m || !range) return void r.bad(['expose', i], 'a port like "80", "80/udp" or "8000-8010"', e);
    for (const p of range) out.push(`${p}/${m[2] ?? 'tcp'}`);
  });
  return out.length ? out : undefined;
}
