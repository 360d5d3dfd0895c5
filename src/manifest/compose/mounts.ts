// Service mounts: `volumes:` in short and long syntax, `configs:` and `secrets:`, `tmpfs:`.
// Named volumes, host paths, repo files (content-addressed) and data directories all become one
// VolumeMount shape for the container request.

import { posix } from 'node:path';
import type { Propagation, VolumeMount } from '../../model/index.js';
import type { At } from '../context.js';
import { RepoPathError, resolveRepoPath } from '../source.js';
import type { AppFiles } from './files.js';
import { isMap, parseBytes, Reader, type Raw } from './values.js';

export interface MountScope {
  /** Volume keys declared at the top level. */
  volumes: Set<string>;
  files: AppFiles;
  /** The Compose file's repo path, which relative paths are resolved against. */
  composeFile: string;
  /** Top-level configs and secrets, resolved: a file to mount, or a host path. */
  configs: Map<string, FileSource>;
  secrets: Map<string, FileSource>;
  /**
   * The project folder on the gateway, which `${PWD}` names: a bind source under it is the
   * relative path it names (`${PWD}/mqtt` is `./mqtt`), as with Compose run from the project folder.
   */
  projectDir?: string;
  /** Why the value at `at` is not what the file meant: the variables it names that are not set ('' if none). */
  unsetNote(at: At): string;
  warn(at: At, message: string): void;
}

/** `path` relative to the project folder (`./x`), when it is the folder or under it. */
export function inProject(projectDir: string | undefined, path: string): string | undefined {
  if (!projectDir || !path.startsWith('/')) return undefined;
  const rel = posix.relative(projectDir, posix.normalize(path));
  if (rel === '') return '.';
  return rel.startsWith('../') || rel === '..' || rel.startsWith('/') ? undefined : `./${rel}`;
}

/** `refused`: defined, but with a key a gateway cannot do (reported there, not again at each use). */
export type FileSource = { repo: { hash: string; name: string } } | { host: string } | { refused: true };

const PROPAGATION = new Set(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);
/** Docker Desktop's file-sharing hints: they change nothing on a Linux Engine, as in Compose. */
const CONSISTENCY = new Set(['cached', 'delegated', 'consistent']);

async function bindSource(
  r: Reader,
  at: At,
  src: string,
  scope: MountScope,
): Promise<Partial<VolumeMount> | undefined> {
  if (src.includes('\0')) {
    r.ctx.at(at, `bind mount source ${JSON.stringify(src)} contains a NUL character, which no path has`);
    return undefined;
  }
  const rel = inProject(scope.projectDir, src) ?? src;
  if (rel.startsWith('/') || rel === '~' || rel.startsWith('~/')) return { source: rel };
  let repoPath: string;
  try {
    repoPath = resolveRepoPath(scope.composeFile, rel);
  } catch (err) {
    if (!(err instanceof RepoPathError)) throw err;
    r.ctx.at(
      at,
      `bind mount source ${JSON.stringify(src)}: ${err.message}; a gateway mounts files of the fleet repo, or ` +
        `absolute paths of the gateway`,
    );
    return undefined;
  }
  return scope.files.bind(repoPath, at);
}

/** `SRC:DST[:MODE]`, `DST` (an anonymous volume). */
async function shortVolume(r: Reader, i: number, spec: string, scope: MountScope): Promise<VolumeMount | undefined> {
  const at = r.here('volumes', i);
  const parts = spec.split(':');
  if (parts.length > 3 || parts.some((p) => p === '')) {
    r.ctx.at(
      at,
      `volumes: expected "volume:/path", "./dir:/path", "/host/path:/path" or "/path", with an optional ":ro", ` +
        `got ${JSON.stringify(spec)}${scope.unsetNote(at)}`,
    );
    return undefined;
  }
  if (parts.length === 1) return { type: 'volume', target: parts[0]!, readOnly: false };
  const [src, target, mode] = parts as [string, string, string | undefined];
  const m: VolumeMount = { type: 'volume', target, readOnly: false };
  for (const opt of mode ? mode.split(',') : []) {
    if (opt === 'ro') m.readOnly = true;
    else if (opt === 'rw') m.readOnly = false;
    else if (opt === 'nocopy') m.noCopy = true;
    else if (PROPAGATION.has(opt)) m.propagation = opt as Propagation;
    else if (CONSISTENCY.has(opt)) continue;
    else if (opt === 'z' || opt === 'Z') m.selinux = opt;
    else {
      r.ctx.at(
        at,
        `volumes: unknown mount option "${opt}" in ${JSON.stringify(spec)} (expected ro, rw, nocopy, z, Z, or a ` +
          `propagation: ${[...PROPAGATION].join(', ')})`,
      );
      return undefined;
    }
  }
  const isPath = src.startsWith('/') || src.startsWith('.') || src.startsWith('~');
  if (!isPath) {
    if (!scope.volumes.has(src)) {
      r.ctx.at(at, `volume "${src}" is not declared under the top-level "volumes" key`);
      return undefined;
    }
    if (m.selinux) {
      // Compose mounts a named volume through the Engine's mount API, without the option: same here.
      scope.warn(
        at,
        `volumes: the SELinux relabel option "${m.selinux}" is accepted and has no effect on the named volume ` +
          `"${src}", as in Docker Compose (the Engine labels its local volumes itself)`,
      );
      delete m.selinux;
    }
    return { ...m, source: src };
  }
  if (m.noCopy) {
    r.ctx.at(at, `volumes: "nocopy" applies to named volumes, and ${JSON.stringify(src)} is a path`);
    return undefined;
  }
  const b = await bindSource(r, at, src, scope);
  return b ? { ...m, ...b, type: 'bind' } : undefined;
}

async function longVolume(r: Reader, i: number, o: Raw, scope: MountScope): Promise<VolumeMount | undefined> {
  const v = new Reader(r.ctx, r.here('volumes', i), o);
  const known = new Set(['type', 'source', 'target', 'read_only', 'bind', 'volume', 'tmpfs', 'consistency']);
  for (const k of Object.keys(o)) {
    if (!known.has(k) && !k.startsWith('x-'))
      r.ctx.at(v.here(k), `volumes: unsupported key "${k}" (expected one of: ${[...known].join(', ')})`, 'key');
  }
  const type = v.str('type');
  const target = v.str('target');
  if (!target) {
    r.ctx.at(v.at, 'volumes: a mount needs a "target", the path in the container');
    return undefined;
  }
  const readOnly = v.bool('read_only') ?? false;
  const source = v.str('source');
  if (type === 'tmpfs') {
    const t = v.sub('tmpfs');
    const size = t?.raw['size'] !== undefined ? parseBytes(t.raw['size']) : undefined;
    if (t && t.raw['size'] !== undefined && size === undefined) t.bad('size', 'a size such as 64m');
    const mode = t?.num('mode', { int: true, min: 0 });
    return {
      type: 'tmpfs',
      target,
      readOnly,
      ...(size !== undefined ? { tmpfsSize: size } : {}),
      ...(mode !== undefined ? { tmpfsMode: mode } : {}),
    };
  }
  if (type === 'volume') {
    const vo = v.sub('volume');
    const noCopy = vo?.bool('nocopy');
    if (vo?.has('subpath'))
      r.ctx.at(
        vo.here('subpath'),
        'volumes: "volume.subpath" needs Docker Engine 26 or later, which rollgate does not require; mount the ' +
          'whole volume',
      );
    if (source !== undefined && !scope.volumes.has(source)) {
      r.ctx.at(v.here('source'), `volume "${source}" is not declared under the top-level "volumes" key`);
      return undefined;
    }
    return {
      type: 'volume',
      target,
      readOnly,
      ...(source !== undefined ? { source } : {}),
      ...(noCopy ? { noCopy } : {}),
    };
  }
  if (type === 'bind') {
    if (!source) {
      r.ctx.at(v.at, 'volumes: a bind mount needs a "source"');
      return undefined;
    }
    const bo = v.sub('bind');
    const propagation = bo?.str('propagation');
    if (propagation !== undefined && !PROPAGATION.has(propagation)) bo!.bad('propagation', [...PROPAGATION].join(', '));
    for (const k of Object.keys(bo?.raw ?? {})) {
      if (k !== 'propagation' && k !== 'create_host_path' && k !== 'recursive' && k !== 'selinux')
        r.ctx.at(
          bo!.here(k),
          `volumes: unsupported key "bind.${k}" (expected propagation, create_host_path, selinux)`,
          'key',
        );
      else if (k === 'recursive' && bo!.str('recursive') !== 'enabled')
        r.ctx.at(bo!.here(k), 'volumes: only "recursive: enabled" (the Engine\'s default) is supported');
    }
    const selinux = bo?.str('selinux');
    if (selinux !== undefined && selinux !== 'z' && selinux !== 'Z') bo!.bad('selinux', '"z" or "Z"');
    // Compose relabels a long-syntax bind only with create_host_path: true (it sends the others through the
    // Engine's mount API, which has no relabel); the same file does the same here.
    const relabel = (selinux === 'z' || selinux === 'Z') && bo?.bool('create_host_path') === true;
    if ((selinux === 'z' || selinux === 'Z') && !relabel)
      scope.warn(
        bo!.here('selinux'),
        `"bind.selinux" is accepted and has no effect without "create_host_path: true", as in Docker Compose ` +
          `(which mounts such a bind through the Engine's mount API, which has no relabel)`,
      );
    const b = await bindSource(r, v.here('source'), source, scope);
    return b
      ? {
          type: 'bind',
          target,
          readOnly,
          ...b,
          ...(propagation && PROPAGATION.has(propagation) ? { propagation: propagation as Propagation } : {}),
          ...(relabel ? { selinux: selinux as 'z' | 'Z' } : {}),
        }
      : undefined;
  }
  r.ctx.at(
    v.here('type'),
    `volumes: mount type ${JSON.stringify(type)} is not supported on a gateway (expected volume, bind or tmpfs)`,
  );
  return undefined;
}

/** `where`, when given, gets where each mount returned was written, under the service: ['volumes', i]. */
export async function serviceVolumes(
  r: Reader,
  scope: MountScope,
  where: (string | number)[][] = [],
): Promise<VolumeMount[]> {
  const raw = r.raw['volumes'];
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) return r.bad('volumes', 'a list of mounts') ?? [];
  const out: VolumeMount[] = [];
  for (let i = 0; i < raw.length; i++) {
    const item: unknown = raw[i];
    const m =
      typeof item === 'string'
        ? await shortVolume(r, i, item, scope)
        : isMap(item)
          ? await longVolume(r, i, item, scope)
          : r.bad(['volumes', i], 'a mount string or mapping', item);
    if (!m) continue;
    // Compose cleans the path in the container ("/etc/grafana/provisioning/" is ".../provisioning").
    if (m.target.startsWith('/')) m.target = posix.normalize(m.target).replace(/(.)\/+$/, '$1');
    if (!m.target.startsWith('/')) {
      r.ctx.at(r.here('volumes', i), `mount target "${m.target}" must be an absolute path in the container`);
      continue;
    }
    out.push(m);
    where.push(['volumes', i]);
  }
  return out;
}

/** `configs:` / `secrets:` of a service: a name, or { source, target, uid, gid, mode }. */
export function fileMounts(
  r: Reader,
  key: 'configs' | 'secrets',
  scope: MountScope,
  where: (string | number)[][] = [],
): VolumeMount[] {
  const raw = r.raw[key];
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) return r.bad(key, `a list of ${key} names or mappings`) ?? [];
  const defined = key === 'configs' ? scope.configs : scope.secrets;
  const out: VolumeMount[] = [];
  raw.forEach((item: unknown, i) => {
    const at = r.here(key, i);
    let source: string | undefined;
    let target: string | undefined;
    if (typeof item === 'string') source = item;
    else if (isMap(item)) {
      const o = new Reader(r.ctx, at, item);
      source = o.str('source');
      target = o.str('target');
      for (const k of Object.keys(item)) {
        if (k === 'uid' || k === 'gid' || k === 'mode')
          r.ctx.at(
            o.here(k),
            `${key}: "${k}" is not supported yet: the file is mounted as it is written (` +
              `${key === 'secrets' ? "0600 and root's, or the gateway file's own mode" : 'the mode git gives it'})`,
            'key',
          );
        else if (k !== 'source' && k !== 'target')
          r.ctx.at(o.here(k), `${key}: unsupported key "${k}" (expected source, target)`, 'key');
      }
    } else return void r.bad([key, i], `a ${key.slice(0, -1)} name or mapping`, item);
    if (!source) return void r.ctx.at(at, `${key}: a "source" naming one of the top-level ${key} is needed`);
    const def = defined.get(source);
    if (!def) {
      r.ctx.at(at, `${key.slice(0, -1)} "${source}" is not declared under the top-level "${key}" key`);
      return;
    }
    if ('refused' in def) return;
    const base = key === 'configs' ? '/' : '/run/secrets/';
    const path = target === undefined ? `${base}${source}` : target.startsWith('/') ? target : `${base}${target}`;
    where.push([key, i]);
    out.push(
      'host' in def
        ? { type: 'bind', source: def.host, target: path, readOnly: true }
        : { type: 'bind', repo: def.repo, target: path, readOnly: true },
    );
  });
  return out;
}
