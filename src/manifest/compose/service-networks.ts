// The networks a service joins, with its endpoint settings on each, and its extra /etc/hosts entries.

import type { NetworkEndpoint } from '../../model/index.js';
import type { ServiceScope } from './service.js';
import { isMap, Reader } from './values.js';

export function parseNetworks(
  r: Reader,
  scope: ServiceScope,
): { networks: string[]; endpoints?: Record<string, NetworkEndpoint> } {
  const raw = r.raw['networks'];
  if (raw === undefined || raw === null) return { networks: [] };
  const endpoints: Record<string, NetworkEndpoint> = {};
  let names: string[];
  if (Array.isArray(raw)) names = raw.map(String);
  else if (isMap(raw)) {
    names = Object.keys(raw);
    for (const [n, v] of Object.entries(raw)) {
      if (v === null || v === undefined) continue;
      if (!isMap(v)) {
        r.bad(['networks', n], 'a mapping of endpoint settings, or nothing', v);
        continue;
      }
      const e = new Reader(r.ctx, r.here('networks', n), v);
      for (const k of Object.keys(v)) {
        if (
          ![
            'aliases',
            'ipv4_address',
            'ipv6_address',
            'link_local_ips',
            'mac_address',
            'priority',
            'gw_priority',
          ].includes(k)
        )
          r.ctx.at(
            e.here(k),
            `networks: unsupported endpoint key "${k}" (expected aliases, ipv4_address, ipv6_address, ` +
              `link_local_ips, mac_address, priority)`,
            'key',
          );
      }
      const ep: NetworkEndpoint = {};
      const aliases = e.list('aliases');
      const v4 = e.str('ipv4_address');
      const v6 = e.str('ipv6_address');
      const ll = e.list('link_local_ips');
      const mac = e.str('mac_address');
      const prio = e.num('priority', { int: true }) ?? e.num('gw_priority', { int: true });
      if (aliases?.length) ep.aliases = [...new Set(aliases)].sort();
      if (v4) ep.ipv4Address = v4;
      if (v6) ep.ipv6Address = v6;
      if (ll?.length) ep.linkLocalIps = ll;
      if (mac) ep.macAddress = mac;
      if (prio !== undefined) ep.priority = prio;
      if (Object.keys(ep).length) endpoints[n] = ep;
    }
  } else return r.bad('networks', 'a list of network names or a mapping') ?? { networks: [] };
  for (const n of names)
    if (!scope.networks.has(n) && n !== 'default')
      r.ctx.at(r.here('networks'), `network "${n}" is not declared under the top-level "networks" key`);
  return { networks: names, ...(Object.keys(endpoints).length ? { endpoints } : {}) };
}

export function parseExtraHosts(r: Reader): string[] {
  const raw = r.raw['extra_hosts'];
  if (raw === undefined || raw === null) return [];
  const out: string[] = [];
  if (Array.isArray(raw)) {
    raw.forEach((e: unknown, i) => {
      const s = String(e);
      // Compose takes "host:ip" and "host=ip"; the Engine wants "host:ip".
      const eq = s.indexOf('=');
      const m = eq > 0 ? [s.slice(0, eq), s.slice(eq + 1)] : /^([^:]+):(.+)$/.exec(s)?.slice(1);
      if (!m) return void r.bad(['extra_hosts', i], 'a "host:ip" or "host=ip" entry', e);
      out.push(`${m[0]}:${m[1]}`);
    });
  } else if (isMap(raw)) {
    for (const [h, ip] of Object.entries(raw))
      for (const one of Array.isArray(ip) ? ip : [ip]) out.push(`${h}:${String(one)}`);
  } else r.bad('extra_hosts', 'a list of "host:ip" or a mapping');
  return out;
}
