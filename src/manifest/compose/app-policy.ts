// The gateway's policy over one Compose app, once it is read.

import type { DesiredNetwork, DesiredVolume } from '../../model/index.js';
import type { LoadContext } from '../context.js';
import type { ServiceSubject } from '../host-keys/index.js';
import { composeBreaches, imageBreaches, type GatewayPolicy } from '../policy.js';
import type { YamlFile } from '../yaml-file.js';
import type { ServiceOverrides } from './app.js';
import type { LoadedService } from './service.js';

/**
 * The gateway's policy over one app: its images, and every key of HOST_KEYS, on what the app
 * asks for once read (interpolated, merged, overridden), each breach at the place it was written.
 */
export function checkPolicy(
  ctx: LoadContext,
  y: YamlFile,
  policy: GatewayPolicy,
  app: {
    project: string;
    loaded: Map<string, LoadedService | undefined>;
    networks: DesiredNetwork[];
    volumes: DesiredVolume[];
    overrides: ServiceOverrides;
  },
): void {
  const netName = (key: string) => app.networks.find((n) => n.name === key)?.engineName ?? `${app.project}_${key}`;
  const services: ServiceSubject[] = [];
  for (const [name, l] of app.loaded) {
    if (!l) continue;
    const override = app.overrides.get(name);
    for (const b of imageBreaches(l.config.image, policy)) {
      const at = override?.fields.image ? override.at : { y, path: ['services', name, 'image'] };
      ctx.breach(at, b.rule, `service "${name}": ${b.message}`);
    }
    services.push({
      name,
      config: l.config,
      mountAt: l.mountAt,
      portAt: l.portAt,
      networkNames: Object.fromEntries(l.config.networks.map((n) => [n, netName(n)])),
    });
  }
  const breaches = composeBreaches(
    {
      services,
      networks: app.networks.map((def) => ({ def, engineName: def.engineName ?? `${app.project}_${def.name}` })),
      volumes: app.volumes.map((def) => ({ def, engineName: def.engineName ?? `${app.project}_${def.name}` })),
    },
    policy,
  );
  for (const b of breaches) {
    const [scope, name] = b.path;
    ctx.breach({ y, path: b.path }, b.rule, scope === 'services' ? `service "${name}": ${b.message}` : b.message);
  }
}
