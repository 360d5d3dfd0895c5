// ServiceConfig -> the Engine's container create request. Pure, so every Compose key's
// translation is unit tested without an Engine.

import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ContainerCreateOptions } from 'dockerode';
import { statePath } from '../../base/state-dir.js';
import type { ServiceConfig, VolumeMount } from '../../model/index.js';
import { LABEL, containerName, networkName, volumeName } from './labels.js';

/** Where mounts of repo files and data directories live on the gateway (under the state directory). */
export interface HostPaths {
  /** `<files>/<app>/<hash>`: content-addressed copies of fleet repo files. */
  files: string;
  /** `<data>/<app>/<repo path>`: relative bind paths the repo does not hold, kept across updates. */
  data: string;
  /** What `~` means in a host path (Compose expands it to the user's home). */
  home: string;
}

export function hostPaths(stateDir: string): HostPaths {
  return { files: statePath(stateDir, 'files'), data: statePath(stateDir, 'data'), home: homedir() };
}

export function repoMountSource(paths: HostPaths, app: string, repo: NonNullable<VolumeMount['repo']>): string {
  return join(paths.files, app, repo.hash, ...(repo.name ? [repo.name] : []));
}

export function dataMountSource(paths: HostPaths, app: string, rel: string): string {
  return join(paths.data, app, ...rel.split('/'));
}

/** The host path a bind mount uses, or undefined for other mounts. */
export function bindSource(paths: HostPaths, app: string, v: VolumeMount): string | undefined {
  if (v.type !== 'bind') return undefined;
  if (v.repo) return repoMountSource(paths, app, v.repo);
  if (v.data !== undefined) return dataMountSource(paths, app, v.data);
  const src = v.source ?? '';
  return src === '~' ? paths.home : src.startsWith('~/') ? join(paths.home, src.slice(2)) : src;
}

export function engineNetwork(app: string, config: ServiceConfig, key: string): string {
  return config.engineNames?.networks?.[key] ?? networkName(app, key);
}

export function engineVolume(app: string, config: ServiceConfig, key: string): string {
  return config.engineNames?.volumes?.[key] ?? volumeName(app, key);
}

export interface ContainerIdentity {
  app: string;
  service: string;
  configHash: string;
  txn: string;
  commit?: string;
  /** The state directory's identity (LABEL.owner). */
  owner?: string;
}

const NS_PER_MS = 1_000_000;

function healthcheck(
  hc: NonNullable<ServiceConfig['healthcheck']>,
): NonNullable<ContainerCreateOptions['Healthcheck']> {
  if (hc.disable) return { Test: ['NONE'] };
  return {
    Test: hc.test,
    ...(hc.intervalMs !== undefined ? { Interval: hc.intervalMs * NS_PER_MS } : {}),
    ...(hc.timeoutMs !== undefined ? { Timeout: hc.timeoutMs * NS_PER_MS } : {}),
    ...(hc.retries !== undefined ? { Retries: hc.retries } : {}),
    ...(hc.startPeriodMs !== undefined ? { StartPeriod: hc.startPeriodMs * NS_PER_MS } : {}),
  };
}

/** `/dev/ttyUSB0`, `/dev/ttyUSB0:/dev/ttyS0` or `/dev/ttyUSB0:/dev/ttyS0:rw`. */
function device(spec: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const [host, inside, perms] = spec.split(':');
  return { PathOnHost: host!, PathInContainer: inside ?? host!, CgroupPermissions: perms ?? 'rwm' };
}

/** Networks after the first are connected before the container starts (API 1.41 takes one at create). */
export function extraNetworks(app: string, config: ServiceConfig): { key: string; name: string }[] {
  return config.networkMode
    ? []
    : config.networks.slice(1).map((n) => ({ key: n, name: engineNetwork(app, config, n) }));
}

/** The endpoint of one network: the service name as alias (as Compose), plus the file's settings. */
export function endpointConfig(service: string, config: ServiceConfig, key: string): Record<string, unknown> {
  const ep = config.networkEndpoints?.[key];
  const ipam =
    ep?.ipv4Address || ep?.ipv6Address || ep?.linkLocalIps
      ? {
          IPAMConfig: {
            ...(ep.ipv4Address ? { IPv4Address: ep.ipv4Address } : {}),
            ...(ep.ipv6Address ? { IPv6Address: ep.ipv6Address } : {}),
            ...(ep.linkLocalIps ? { LinkLocalIPs: ep.linkLocalIps } : {}),
          },
        }
      : {};
  return {
    Aliases: [service, ...(ep?.aliases ?? [])],
    // As Compose: the links on every endpoint; the Engine resolves each where the linked service is.
    ...(config.links?.length ? { Links: config.links } : {}),
    ...ipam,
    ...(ep?.macAddress ? { MacAddress: ep.macAddress } : {}),
    ...(ep?.priority !== undefined ? { GwPriority: ep.priority } : {}),
  };
}

function ulimits(u: NonNullable<ServiceConfig['ulimits']>): { Name: string; Soft: number; Hard: number }[] {
  return Object.entries(u).map(([Name, v]) => ({ Name, Soft: v.soft, Hard: v.hard }));
}

type EngineMount = NonNullable<NonNullable<ContainerCreateOptions['HostConfig']>['Mounts']>[number];

function mount(id: ContainerIdentity, config: ServiceConfig, v: VolumeMount, paths: HostPaths): EngineMount {
  const source =
    v.type === 'volume'
      ? v.source
        ? engineVolume(id.app, config, v.source)
        : ''
      : v.type === 'bind'
        ? bindSource(paths, id.app, v)!
        : '';
  return {
    Type: v.type as EngineMount['Type'],
    Target: v.target,
    ReadOnly: v.readOnly,
    // An empty source is an anonymous volume, or a tmpfs.
    Source: source,
    ...(v.propagation ? { BindOptions: { Propagation: v.propagation } } : {}),
    ...(v.noCopy ? { VolumeOptions: { NoCopy: true } as EngineMount['VolumeOptions'] } : {}),
    ...(v.tmpfsSize !== undefined || v.tmpfsMode !== undefined
      ? {
          TmpfsOptions: {
            ...(v.tmpfsSize !== undefined ? { SizeBytes: v.tmpfsSize } : {}),
            ...(v.tmpfsMode !== undefined ? { Mode: v.tmpfsMode } : {}),
          } as EngineMount['TmpfsOptions'],
        }
      : {}),
  };
}

export function containerSpec(
  id: ContainerIdentity,
  config: ServiceConfig,
  name = containerName(id.app, id.service, id.configHash),
  paths: HostPaths = hostPaths('/var/lib/rollgate'),
): ContainerCreateOptions {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp?: string; HostPort?: string }[]> = {};
  for (const p of config.ports) {
    const key = `${p.containerPort}/${p.protocol}`;
    exposed[key] = {};
    (bindings[key] ??= []).push({
      ...(p.hostIp ? { HostIp: p.hostIp } : {}),
      HostPort: p.hostPort !== undefined ? String(p.hostPort) : '',
    });
  }
  for (const e of config.expose ?? []) exposed[e] = {};
  // A bind relabelled for SELinux goes as Compose sends it, `src:dst:rw,z`: the mount API has no relabel.
  const mounts = config.volumes.filter((v) => !v.selinux).map((v) => mount(id, config, v, paths));
  const binds = config.volumes
    .filter((v) => v.selinux)
    .map((v) =>
      [
        bindSource(paths, id.app, v),
        v.target,
        [v.readOnly ? 'ro' : 'rw', v.selinux, v.propagation ?? []].flat().join(','),
      ].join(':'),
    );
  const first = config.networkMode ? undefined : config.networks[0];
  const r = config.resources ?? {};
  const num = <K extends string>(k: K, v: number | undefined): Partial<Record<K, number>> =>
    v === undefined ? {} : ({ [k]: v } as Record<K, number>);
  const labels: Record<string, string> = {
    ...config.labels,
    [LABEL.app]: id.app,
    [LABEL.service]: id.service,
    [LABEL.configHash]: id.configHash,
    [LABEL.txn]: id.txn,
    ...(id.commit ? { [LABEL.commit]: id.commit } : {}),
    ...(id.owner ? { [LABEL.owner]: id.owner } : {}),
    ...(config.preStop?.length ? { [LABEL.preStop]: JSON.stringify(config.preStop) } : {}),
  };
  return {
    name,
    Image: config.image,
    ...(config.command ? { Cmd: config.command } : {}),
    ...(config.entrypoint ? { Entrypoint: config.entrypoint } : {}),
    Env: [...Object.entries(config.environment).map(([k, v]) => `${k}=${v}`), ...(config.environmentUnset ?? [])],
    Labels: labels,
    ExposedPorts: exposed,
    ...(config.user ? { User: config.user } : {}),
    ...(config.workingDir ? { WorkingDir: config.workingDir } : {}),
    ...(config.hostname ? { Hostname: config.hostname } : {}),
    ...(config.healthcheck ? { Healthcheck: healthcheck(config.healthcheck) } : {}),
    ...(config.stopSignal ? { StopSignal: config.stopSignal } : {}),
    ...(config.stopGracePeriodMs !== undefined ? { StopTimeout: Math.ceil(config.stopGracePeriodMs / 1000) } : {}),
    ...(config.tty ? { Tty: true } : {}),
    ...(config.stdinOpen ? { OpenStdin: true, AttachStdin: true } : {}),
    ...(config.domainname ? { Domainname: config.domainname } : {}),
    ...(config.macAddress ? { MacAddress: config.macAddress } : {}),
    ...(config.platform ? { platform: config.platform } : {}),
    HostConfig: {
      PortBindings: bindings,
      Mounts: mounts,
      ...(binds.length ? { Binds: binds } : {}),
      RestartPolicy: {
        Name: config.restart === 'no' ? '' : config.restart,
        ...(config.restartMaxRetries !== undefined ? { MaximumRetryCount: config.restartMaxRetries } : {}),
      },
      ...num('Memory', r.memoryBytes),
      ...num('MemoryReservation', r.memoryReservationBytes),
      ...num('MemorySwap', r.memorySwapBytes),
      ...num('MemorySwappiness', r.memSwappiness),
      ...num('NanoCpus', r.nanoCpus),
      ...num('CpuShares', r.cpuShares),
      ...num('CpuPeriod', r.cpuPeriod),
      ...num('CpuQuota', r.cpuQuota),
      ...num('CpuRealtimePeriod', r.cpuRtPeriod),
      ...num('CpuRealtimeRuntime', r.cpuRtRuntime),
      ...num('PidsLimit', r.pidsLimit),
      ...num('OomScoreAdj', r.oomScoreAdj),
      ...num('BlkioWeight', r.blkioWeight),
      ...(r.cpusetCpus ? { CpusetCpus: r.cpusetCpus } : {}),
      ...(r.oomKillDisable !== undefined ? { OomKillDisable: r.oomKillDisable } : {}),
      ...num('ShmSize', config.shmSizeBytes),
      ...(config.sysctls ? { Sysctls: config.sysctls } : {}),
      ...(config.securityOpt ? { SecurityOpt: config.securityOpt } : {}),
      ...(config.runtime ? { Runtime: config.runtime } : {}),
      ...(config.ulimits ? { Ulimits: ulimits(config.ulimits) } : {}),
      ...(config.dns ? { Dns: config.dns } : {}),
      ...(config.dnsSearch ? { DnsSearch: config.dnsSearch } : {}),
      ...(config.dnsOpt ? { DnsOptions: config.dnsOpt } : {}),
      ...(config.pid ? { PidMode: config.pid } : {}),
      ...(config.ipc ? { IpcMode: config.ipc } : {}),
      ...(config.uts ? { UTSMode: config.uts } : {}),
      ...(config.usernsMode ? { UsernsMode: config.usernsMode } : {}),
      ...(config.cgroup ? { CgroupnsMode: config.cgroup } : {}),
      ...(config.cgroupParent ? { CgroupParent: config.cgroupParent } : {}),
      ...(config.groupAdd ? { GroupAdd: config.groupAdd } : {}),
      ...(config.deviceCgroupRules ? { DeviceCgroupRules: config.deviceCgroupRules } : {}),
      ...(config.storageOpt ? { StorageOpt: config.storageOpt } : {}),
      ...(config.annotations ? { Annotations: config.annotations } : {}),
      // Service names here; the applier puts the id of the container that runs each one now.
      ...(config.volumesFrom ? { VolumesFrom: config.volumesFrom.map((v) => v.replace(/^container:/, '')) } : {}),
      Privileged: config.privileged,
      CapAdd: config.capAdd,
      CapDrop: config.capDrop,
      // Unset unless the file sets it, as Compose: the Engine's own default (daemon.json "init") applies.
      ...(config.init ? { Init: true } : config.initDisabled ? { Init: false } : {}),
      ...(config.links?.length ? { Links: config.links } : {}),
      ReadonlyRootfs: config.readOnly,
      Devices: config.devices.map(device),
      ExtraHosts: config.extraHosts,
      Tmpfs: Object.fromEntries(
        config.tmpfs.map((t) => {
          const [path, opts] = t.split(/:(.*)/s);
          return [path!, opts ?? ''];
        }),
      ),
      NetworkMode: config.networkMode ?? (first ? engineNetwork(id.app, config, first) : 'default'),
      ...(config.logging ? { LogConfig: { Type: config.logging.driver, Config: config.logging.options } } : {}),
    },
    ...(first
      ? {
          NetworkingConfig: {
            EndpointsConfig: { [engineNetwork(id.app, config, first)]: endpointConfig(id.service, config, first) },
          },
        }
      : {}),
  };
}
