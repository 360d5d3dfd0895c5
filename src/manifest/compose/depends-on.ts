// `depends_on`: the services a service waits for, and on what condition.

import type { DependsCondition, ServiceConfig } from '../../model/index.js';
import type { ServiceScope } from './service.js';
import { isMap, Reader } from './values.js';

export function parseDependsOn(r: Reader, name: string, scope: ServiceScope): ServiceConfig['dependsOn'] {
  const out: ServiceConfig['dependsOn'] = {};
  const raw = r.raw['depends_on'];
  if (raw === undefined || raw === null) return out;
  if (Array.isArray(raw)) for (const d of raw.map(String)) out[d] = { condition: 'service_started', required: true };
  else if (isMap(raw)) {
    for (const [d, c] of Object.entries(raw)) {
      const o = new Reader(r.ctx, r.here('depends_on', d), isMap(c) ? c : {});
      const condition = o.str('condition') ?? 'service_started';
      if (!['service_started', 'service_healthy', 'service_completed_successfully'].includes(condition))
        o.bad('condition', 'service_started, service_healthy or service_completed_successfully');
      const restart = o.bool('restart');
      out[d] = {
        condition: condition as DependsCondition,
        required: o.bool('required') ?? true,
        ...(restart ? { restart } : {}),
      };
    }
  } else r.bad('depends_on', 'a list of service names or a mapping');
  for (const d of Object.keys(out)) {
    if (d === name) r.ctx.at(r.here('depends_on'), `service "${name}" depends on itself`);
    else if (!scope.serviceNames.has(d) && out[d]!.required)
      r.ctx.at(r.here('depends_on'), `service "${name}" depends on "${d}", which this file does not define`);
    else if (!scope.serviceNames.has(d)) delete out[d]; // required: false on a service that is not there, as Compose
  }
  return out;
}
