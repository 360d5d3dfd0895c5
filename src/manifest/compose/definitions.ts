// The top-level definitions of a Compose file: its networks and volumes (with the Engine names they
// get and their labels), and its configs and secrets (a repo file, a gateway file, inline content,
// or a variable).

import type { DesiredNetwork, DesiredVolume } from '../../model/index.js';
import { canonicalJson, sha256Hex } from '../canonical.js';
import { RepoPathError, resolveRepoPath } from '../source.js';
import type { AppFiles } from './files.js';
import type { Variables } from './interpolate.js';
import { checkKeys, CONFIG_KEYS, NETWORK_KEYS, SECRET_KEYS, VOLUME_KEYS } from './keys.js';
import { inProject, type FileSource } from './mounts.js';
import { RESERVED_LABEL_PREFIX, type ServiceScope } from './service.js';
import { isMap, Reader } from './values.js';

/** Names of configs and secrets, as the Compose specification allows them. */
const FILE_NAME = /^[a-zA-Z0-9._-]+$/;

function definitions(r: Reader, key: string): [string, Reader | undefined][] {
  const raw = r.raw[key];
  if (raw === undefined || raw === null) return [];
  if (!isMap(raw)) return r.bad(key, 'a mapping of names to definitions') ?? [];
  return Object.entries(raw).map(([name, v]) => {
    if (v === null || v === undefined) return [name, undefined];
    if (!isMap(v)) return [name, r.bad([key, name], 'a mapping, or nothing', v)];
    return [name, new Reader(r.ctx, r.here(key, name), v)];
  });
}

function external(r: Reader | undefined): { external: boolean; name?: string } {
  if (!r || r.raw['external'] === undefined) return { external: false };
  const e = r.raw['external'];
  // `external: { name: x }` is the old spelling of `external: true` + `name: x`.
  if (isMap(e)) return { external: true, ...(typeof e['name'] === 'string' ? { name: e['name'] } : {}) };
  return { external: r.bool('external') ?? false };
}

/** An external network or volume is made outside rollgate: settings for making it cannot apply. */
function refuseOnExternal(d: Reader, what: string): void {
  for (const k of Object.keys(d.raw)) {
    if (k === 'external' || k === 'name' || k.startsWith('x-')) continue;
    d.ctx.at(d.here(k), `${what} is external: rollgate does not create it, so "${k}" cannot apply`, 'key');
  }
}

/**
 * Labels of a network or volume: rollgate's own (owner, app, config hash) are its bookkeeping
 * on every object, never the Compose file's to set.
 */
function objectLabels(d: Reader | undefined): Record<string, string> | undefined {
  const labels = d?.mapOrList('labels');
  for (const k of Object.keys(labels ?? {}))
    if (k.startsWith(RESERVED_LABEL_PREFIX))
      d!.ctx.at(d!.here('labels', k), `label "${k}" is reserved for rollgate's own bookkeeping`, 'key');
  return labels;
}

export function loadNetworks(
  r: Reader,
  project: string,
  appName: string,
  warn: ServiceScope['warn'],
): DesiredNetwork[] {
  const out: DesiredNetwork[] = [];
  for (const [name, d] of definitions(r, 'networks')) {
    if (d) checkKeys(d, NETWORK_KEYS, `network "${name}"`, warn);
    const ext = external(d);
    const given = d?.str('name') ?? ext.name;
    const engineName = given ?? (ext.external ? name : `${project}_${name}`);
    const n: DesiredNetwork = { name, driver: d?.str('driver') ?? 'bridge', internal: d?.bool('internal') ?? false };
    // Every name but the applier's own `<app>_<key>` is written down, for the network and its services alike.
    if (engineName !== `${appName}_${name}` || ext.external) n.engineName = engineName;
    if (ext.external) {
      n.external = true;
      refuseOnExternal(d!, `network "${name}"`);
    }
    const attachable = d?.bool('attachable');
    const v6 = d?.bool('enable_ipv6');
    const v4 = d?.bool('enable_ipv4');
    const opts = d?.mapOrList('driver_opts');
    const labels = objectLabels(d);
    if (attachable) n.attachable = true;
    if (v6 !== undefined) n.enableIpv6 = v6;
    if (v4 === false) n.enableIpv4 = false;
    if (opts && Object.keys(opts).length) n.driverOpts = opts;
    if (labels && Object.keys(labels).length) n.labels = labels;
    const ipam = d?.sub('ipam');
    if (ipam) {
      for (const k of Object.keys(ipam.raw))
        if (!['driver', 'config', 'options'].includes(k))
          r.ctx.at(ipam.here(k), `ipam: unsupported key "${k}" (expected driver, config, options)`, 'key');
      const cfg = Array.isArray(ipam.raw['config']) ? (ipam.raw['config'] as unknown[]) : [];
      if (ipam.raw['config'] !== undefined && !Array.isArray(ipam.raw['config']))
        ipam.bad('config', 'a list of subnets');
      const config = cfg.map((c, i) => {
        const cr = new Reader(r.ctx, ipam.here('config', i), isMap(c) ? c : {});
        for (const k of Object.keys(cr.raw))
          if (!['subnet', 'ip_range', 'gateway', 'aux_addresses'].includes(k))
            r.ctx.at(
              cr.here(k),
              `ipam.config: unsupported key "${k}" (expected subnet, ip_range, gateway, aux_addresses)`,
              'key',
            );
        const subnet = cr.str('subnet');
        const ipRange = cr.str('ip_range');
        const gateway = cr.str('gateway');
        const aux = cr.mapOrList('aux_addresses');
        return {
          ...(subnet ? { subnet } : {}),
          ...(ipRange ? { ipRange } : {}),
          ...(gateway ? { gateway } : {}),
          ...(aux && Object.keys(aux).length ? { auxAddresses: aux } : {}),
        };
      });
      const driver = ipam.str('driver');
      const options = ipam.mapOrList('options');
      n.ipam = {
        config,
        ...(driver ? { driver } : {}),
        ...(options && Object.keys(options).length ? { options } : {}),
      };
    }
    out.push(n);
  }
  return out;
}

export function loadVolumes(
  r: Reader,
  project: string,
  warn: ServiceScope['warn'],
  recreate: boolean,
): DesiredVolume[] {
  const out: DesiredVolume[] = [];
  for (const [name, d] of definitions(r, 'volumes')) {
    if (d) checkKeys(d, VOLUME_KEYS, `volume "${name}"`, warn);
    const ext = external(d);
    const given = d?.str('name') ?? ext.name;
    // x-rollgate.recreate_volumes: the definition is in the name, so a changed one is a new, empty
    // volume beside the old (which a rollback finds untouched), never the old one altered.
    const definition = () =>
      canonicalJson({
        driver: d?.str('driver') ?? 'local',
        opts: d?.mapOrList('driver_opts') ?? {},
        labels: d?.mapOrList('labels') ?? {},
      });
    const defined = recreate && !given && !ext.external ? `-${sha256Hex(definition()).slice(0, 8)}` : '';
    const engineName = given ?? (ext.external ? name : `${project}_${name}${defined}`);
    const v: DesiredVolume = { name, driver: d?.str('driver') ?? 'local' };
    if (engineName !== `${project}_${name}` || ext.external) v.engineName = engineName;
    if (ext.external) {
      v.external = true;
      refuseOnExternal(d!, `volume "${name}"`);
    }
    const opts = d?.mapOrList('driver_opts');
    const labels = objectLabels(d);
    if (opts && Object.keys(opts).length) v.driverOpts = opts;
    if (labels && Object.keys(labels).length) v.labels = labels;
    out.push(v);
  }
  return out;
}

/** Top-level configs and secrets: a repo file, a gateway file, inline content, or a variable. */
export async function loadFileDefinitions(
  r: Reader,
  key: 'configs' | 'secrets',
  files: AppFiles,
  composeFile: string,
  vars: Variables,
  warn: ServiceScope['warn'],
  hostSecrets: Set<string>,
  projectDir: string | undefined,
): Promise<Map<string, FileSource>> {
  const out = new Map<string, FileSource>();
  const secret = key === 'secrets';
  for (const [name, d] of definitions(r, key)) {
    // The name is the file's name where it is written and mounted: never a path.
    if (!FILE_NAME.test(name) || name === '.' || name === '..') {
      r.ctx.at(
        r.here(key, name),
        `${key.slice(0, -1)} name ${JSON.stringify(name)} is not allowed: use letters, digits, ".", "_" and "-" ` +
          '(as the Compose specification does), not "." or ".."',
        'key',
      );
      out.set(name, { refused: true });
      continue;
    }
    // A definition that does not load is reported here, once: its uses are not "not declared".
    out.set(name, { refused: true });
    if (!d) {
      r.ctx.at(
        r.here(key, name),
        `${key.slice(0, -1)} "${name}" needs "file"${secret ? '' : ', "content"'} or "environment"`,
      );
      continue;
    }
    if (!checkKeys(d, secret ? SECRET_KEYS : CONFIG_KEYS, `${key.slice(0, -1)} "${name}"`, warn)) continue;
    const written = d.str('file');
    const file = written === undefined ? undefined : (inProject(projectDir, written) ?? written);
    const content = secret ? undefined : d.str('content');
    const env = d.str('environment');
    const given = [file, content, env].filter((x) => x !== undefined).length;
    if (given !== 1) {
      r.ctx.at(
        d.at,
        `${key.slice(0, -1)} "${name}" needs exactly one of "file"${secret ? '' : ', "content"'} and "environment"`,
      );
      continue;
    }
    if (file !== undefined) {
      if (file.startsWith('/')) {
        out.set(name, { host: file }); // a file of the gateway: per-device values that stay out of Git
        if (secret) hostSecrets.add(file);
        continue;
      }
      let repoPath: string;
      try {
        repoPath = resolveRepoPath(composeFile, file);
      } catch (err) {
        if (!(err instanceof RepoPathError)) throw err;
        r.ctx.at(d.here('file'), `${key.slice(0, -1)} "${name}": ${err.message}`);
        continue;
      }
      const f = await files.file(repoPath, d.here('file'), `${key.slice(0, -1)} "${name}" file`, secret);
      if (f) out.set(name, { repo: f });
    } else if (content !== undefined) out.set(name, { repo: files.content(name, content, d.here('content'), false) });
    else {
      const v = vars.get(env!);
      if (v === undefined) {
        r.ctx.at(
          d.here('environment'),
          `${key.slice(0, -1)} "${name}" takes variable ${env}, which is not set (set it in the fleet target's ` +
            `variables or the gateway's variables file)`,
        );
        continue;
      }
      out.set(name, { repo: files.content(name, v, d.here('environment'), secret) });
    }
  }
  return out;
}
