// Observation from the Engine alone, in four list calls whatever the number of containers.

import type {
  ContainerState,
  EngineNetworkSpec,
  ObservedContainer,
  ObservedState,
  ServiceHook,
} from '../../model/index.js';
import type Docker from 'dockerode';
import type { Engine } from './engine.js';
import { LABEL, ownedBy } from './labels.js';

export type DockerObservation = Pick<ObservedState, 'containers' | 'networks' | 'volumes' | 'images'> & {
  /** rollgate apps of another state directory on this Engine: reported, never touched. */
  foreign: { app: string; owner: string }[];
};

const STATES = new Set<ContainerState>(['created', 'running', 'paused', 'restarting', 'exited', 'dead', 'removing']);

/** The list call has no health field; its status text does: "Up 5 seconds (healthy)". */
export function healthFromStatus(status: string): ObservedContainer['health'] {
  const m = /\((healthy|unhealthy|health: starting)\)/.exec(status);
  if (!m) return undefined;
  return m[1] === 'health: starting' ? 'starting' : (m[1] as 'healthy' | 'unhealthy');
}

/** Tags as the Engine lists them, plus the untagged spelling compose files use for `:latest`. */
export function imageRefs(
  tags: readonly string[] | null | undefined,
  digests: readonly string[] | null | undefined,
): string[] {
  const out: string[] = [];
  for (const t of tags ?? []) {
    if (t === '<none>:<none>') continue;
    for (const s of [t, ...hubSpellings(t)]) {
      out.push(s);
      if (s.endsWith(':latest')) out.push(s.slice(0, -':latest'.length));
    }
  }
  for (const d of digests ?? []) if (!d.startsWith('<none>')) out.push(d, ...hubSpellings(d));
  return out;
}

/**
 * The Engine names a Docker Hub image without its registry (`eclipse/ditto-ui:1`, `postgres:16`);
 * a Compose file may spell it `docker.io/eclipse/ditto-ui:1` or `library/postgres:16`, and it is the
 * same image, present (as Compose finds it), not one to pull.
 */
function hubSpellings(ref: string): string[] {
  const first = ref.split('/')[0]!;
  if (ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) return [];
  return ref.includes('/') ? [`docker.io/${ref}`] : [`library/${ref}`, `docker.io/library/${ref}`, `docker.io/${ref}`];
}

/** What the list call says of a network, as needed to make it again. */
type Maybe<T> = T | null | undefined;

function networkSpec(n: {
  Driver?: Maybe<string>;
  Internal?: Maybe<boolean>;
  Attachable?: Maybe<boolean>;
  EnableIPv6?: Maybe<boolean>;
  Options?: Maybe<Record<string, string>>;
  Labels?: Maybe<Record<string, string>>;
  IPAM?: Maybe<{
    Driver?: Maybe<string>;
    Config?: Maybe<Record<string, unknown>[]>;
    Options?: Maybe<Record<string, string>>;
  }>;
}): EngineNetworkSpec {
  return {
    driver: n.Driver ?? 'bridge',
    internal: n.Internal ?? false,
    attachable: n.Attachable ?? false,
    enableIpv6: n.EnableIPv6 ?? false,
    options: n.Options ?? {},
    labels: n.Labels ?? {},
    ipam: { driver: n.IPAM?.Driver ?? 'default', config: n.IPAM?.Config ?? [], options: n.IPAM?.Options ?? {} },
  };
}

/** A container's pre_stop hooks from its label; a damaged label reads as none. */
export function preStopOf(label: string | undefined): ServiceHook[] | undefined {
  if (!label) return undefined;
  try {
    const v = JSON.parse(label) as unknown;
    return Array.isArray(v) && v.every((h) => Array.isArray((h as ServiceHook).command))
      ? (v as ServiceHook[])
      : undefined;
  } catch {
    return undefined;
  }
}

export async function observeDocker(engine: Engine, owner?: string): Promise<DockerObservation> {
  const filters = JSON.stringify({ label: [LABEL.app] });
  const [containers, networks, volumes, images] = await Promise.all([
    engine.read<Docker.ContainerInfo[]>('/containers/json', { all: '1', filters }),
    engine.read<Docker.NetworkInspectInfo[]>('/networks', { filters }),
    engine.read<{ Volumes?: Docker.VolumeInspectInfo[] | null }>('/volumes', { filters }),
    engine.read<Docker.ImageInfo[]>('/images/json'),
  ]);
  const observed: DockerObservation = { containers: [], networks: [], volumes: [], images: [], foreign: [] };
  const foreign = new Map<string, string>();
  const mine = (labels: Record<string, string> | null | undefined) => {
    if (ownedBy(labels, owner)) return true;
    const app = labels?.[LABEL.app];
    if (app) foreign.set(app, labels![LABEL.owner]!);
    return false;
  };
  for (const c of containers) {
    const l = c.Labels ?? {};
    if (!mine(l)) continue;
    const app = l[LABEL.app];
    const service = l[LABEL.service];
    if (!app || !service) continue;
    const state = STATES.has(c.State as ContainerState) ? (c.State as ContainerState) : 'dead';
    const health = healthFromStatus(c.Status ?? '');
    const commit = l[LABEL.commit];
    const preStop = preStopOf(l[LABEL.preStop]);
    observed.containers.push({
      app,
      service,
      containerId: c.Id,
      configHash: l[LABEL.configHash] ?? '',
      image: c.Image,
      state,
      ...(health ? { health } : {}),
      ...(commit ? { commit } : {}),
      ...(preStop ? { preStop } : {}),
    });
  }
  for (const n of networks) {
    if (!mine(n.Labels)) continue;
    const app = n.Labels?.[LABEL.app];
    const name = n.Labels?.[LABEL.network];
    const hash = n.Labels?.[LABEL.configHash];
    if (app && name)
      observed.networks.push({
        app,
        name,
        ...(n.Name !== `${app}_${name}` ? { engineName: n.Name } : {}),
        ...(hash ? { configHash: hash, spec: networkSpec(n) } : {}),
      });
  }
  for (const v of volumes.Volumes ?? []) {
    if (!mine(v.Labels)) continue;
    const app = v.Labels?.[LABEL.app];
    const name = v.Labels?.[LABEL.volume];
    const hash = v.Labels?.[LABEL.configHash];
    if (app && name)
      observed.volumes.push({
        app,
        name,
        ...(v.Name !== `${app}_${name}` ? { engineName: v.Name } : {}),
        ...(hash ? { configHash: hash } : {}),
      });
  }
  observed.foreign = [...foreign].map(([app, o]) => ({ app, owner: o })).sort((a, b) => (a.app < b.app ? -1 : 1));
  const refs = new Set<string>();
  for (const i of images) for (const r of imageRefs(i.RepoTags, i.RepoDigests)) refs.add(r);
  observed.images = [...refs].sort();
  const byKey = (a: { app: string; name: string }, b: { app: string; name: string }) =>
    a.app + '\0' + a.name < b.app + '\0' + b.name ? -1 : 1;
  observed.containers.sort((a, b) =>
    a.app + '\0' + a.service + '\0' + a.containerId < b.app + '\0' + b.service + '\0' + b.containerId ? -1 : 1,
  );
  observed.networks.sort(byKey);
  observed.volumes.sort(byKey);
  return observed;
}
