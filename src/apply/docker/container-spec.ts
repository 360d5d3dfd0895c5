// ServiceConfig -> the Engine's container create request. Pure, so every Compose key's
// translation is unit tested without an Engine.

import type { ContainerCreateOptions } from 'dockerode';
import type { ServiceConfig } from '../../model/index.js';
import { LABEL, containerName, networkName, volumeName } from './labels.js';

export interface ContainerIdentity {
  app: string;
  service: string;
  configHash: string;
  txn: string;
  commit?: string;
}

const NS_PER_MS = 1_000_000;

function healthcheck(hc: NonNullable<ServiceConfig['healthcheck']>): NonNullable<ContainerCreateOptions['Healthcheck']> {
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
export function extraNetworks(app: string, config: ServiceConfig): string[] {
  return config.networkMode ? [] : config.networks.slice(1).map((n) => networkName(app, n));
}

export function containerSpec(id: ContainerIdentity, config: ServiceConfig, name = containerName(id.app, id.service, id.configHash)): ContainerCreateOptions {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp?: string; HostPort?: string }[]> = {};
  for (const p of config.ports) {
    const key = `${p.containerPort}/${p.protocol}`;
    exposed[key] = {};
    (bindings[key] ??= []).push({ ...(p.hostIp ? { HostIp: p.hostIp } : {}), HostPort: p.hostPort !== undefined ? String(p.hostPort) : '' });
  }
  const mounts = config.volumes.map((v) => ({
    Type: v.type,
    Target: v.target,
    ReadOnly: v.readOnly,
    // An empty source is an anonymous volume, or a tmpfs.
    Source: v.type === 'volume' && v.source ? volumeName(id.app, v.source) : v.type === 'bind' ? v.source! : '',
  }));
  const first = config.networkMode ? undefined : config.networks[0];
  const labels: Record<string, string> = {
    ...config.labels,
    [LABEL.app]: id.app,
    [LABEL.service]: id.service,
    [LABEL.configHash]: id.configHash,
    [LABEL.txn]: id.txn,
    ...(id.commit ? { [LABEL.commit]: id.commit } : {}),
  };
  return {
    name,
    Image: config.image,
    ...(config.command ? { Cmd: config.command } : {}),
    ...(config.entrypoint ? { Entrypoint: config.entrypoint } : {}),
    Env: Object.entries(config.environment).map(([k, v]) => `${k}=${v}`),
    Labels: labels,
    ExposedPorts: exposed,
    ...(config.user ? { User: config.user } : {}),
    ...(config.workingDir ? { WorkingDir: config.workingDir } : {}),
    ...(config.hostname ? { Hostname: config.hostname } : {}),
    ...(config.healthcheck ? { Healthcheck: healthcheck(config.healthcheck) } : {}),
    ...(config.stopSignal ? { StopSignal: config.stopSignal } : {}),
    ...(config.stopGracePeriodMs !== undefined ? { StopTimeout: Math.ceil(config.stopGracePeriodMs / 1000) } : {}),
    HostConfig: {
      PortBindings: bindings,
      Mounts: mounts,
      RestartPolicy: { Name: config.restart === 'no' ? '' : config.restart },
      Privileged: config.privileged,
      CapAdd: config.capAdd,
      CapDrop: config.capDrop,
      Init: config.init,
      ReadonlyRootfs: config.readOnly,
      Devices: config.devices.map(device),
      ExtraHosts: config.extraHosts,
      Tmpfs: Object.fromEntries(config.tmpfs.map((t) => { const [path, opts] = t.split(/:(.*)/s); return [path!, opts ?? '']; })),
      NetworkMode: config.networkMode ?? (first ? networkName(id.app, first) : 'default'),
      ...(config.logging ? { LogConfig: { Type: config.logging.driver, Config: config.logging.options } } : {}),
    },
    ...(first ? { NetworkingConfig: { EndpointsConfig: { [networkName(id.app, first)]: { Aliases: [id.service] } } } } : {}),
  };
}
