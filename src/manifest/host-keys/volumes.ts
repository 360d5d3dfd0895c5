// The rows of the volumes' keys that reach the host: volume plugins, driver options that bind a
// host path or mount a disk or share, and volumes made outside the app.

import { bindFinding, list, one, plus, type HostKey } from './row.js';

/**
 * Named volume options of the `local` driver: a bind of `device` (`o: bind`, or `type: none`), a
 * tmpfs (memory), or a mount of anything else the kernel can mount (a disk, a share).
 */
export function localVolumeKind(opts: Record<string, string>): 'bind' | 'tmpfs' | 'other' {
  const o = (opts['o'] ?? '').split(',').map((x) => x.trim());
  if (o.includes('bind') || o.includes('rbind') || opts['type'] === 'none') return 'bind';
  if (opts['type'] === 'tmpfs' && Object.keys(opts).every((k) => k === 'type' || k === 'o' || k === 'device'))
    return 'tmpfs';
  return 'other';
}

export const VOLUME_KEYS: readonly HostKey[] = [
  {
    scope: 'volume',
    key: 'driver',
    reaches: 'a volume plugin, which may mount anything of the host',
    rule: 'policy.volumeDrivers',
    check: (v, p) =>
      one(
        v.def.driver !== 'local' && !(p.volumeDrivers ?? []).includes(v.def.driver),
        `volume driver ${v.def.driver} is not allowed (allowed: ${plus('local', p.volumeDrivers)})`,
      ),
  },
  {
    scope: 'volume',
    key: 'driver_opts',
    reaches: 'a path of the host (o: bind, device: /…), a disk or a network share (type: ext4, nfs…)',
    rule: 'policy.allowVolumeDriverOpts',
    atApply: true,
    check: (v, p) => {
      const opts = v.def.driverOpts;
      if (!opts) return [];
      const kind = v.def.driver === 'local' ? localVolumeKind(opts) : 'other';
      if (kind === 'tmpfs') return [];
      if (kind === 'bind') {
        const why = bindFinding(opts['device'] ?? '', p, `volume "${v.def.name}" binds`);
        return why ? [{ at: ['device'], message: why, rule: 'policy.bindPaths' }] : [];
      }
      return one(
        p.allowVolumeDriverOpts !== true,
        `volume "${v.def.name}" mounts ${opts['type'] ? `a ${opts['type']} file system` : 'with driver options'}, ` +
          'which is not allowed',
      );
    },
  },
  {
    scope: 'volume',
    key: 'external',
    reaches: "a volume made outside this app (another instance's data, or a bind of a host path)",
    rule: 'policy.externalVolumes',
    check: (v, p) =>
      one(
        v.def.external === true && !(p.externalVolumes ?? []).includes(v.engineName),
        `external volume ${v.engineName} is not allowed (allowed: ${list(p.externalVolumes)})`,
      ),
  },
  {
    scope: 'volume',
    key: 'name',
    reaches: 'a volume already on the gateway that rollgate did not make, found under this name at apply time',
    rule: 'policy.externalVolumes',
    atApply: true,
    check: (v, p) =>
      one(
        v.unmanaged === true && !(p.externalVolumes ?? []).includes(v.engineName),
        `volume ${v.engineName} is already on the gateway and rollgate did not make it; using it is not allowed ` +
          `(allowed: ${list(p.externalVolumes)})`,
      ),
  },
];
