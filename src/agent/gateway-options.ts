// The Gateway's options from the agent's configuration: apart from ./ports.ts so that the
// resident part can name them without loading what the ports wire.

import type { GatewayOptions } from '../gateway/gateway.js';
import type { AgentConfig } from './config.js';

export function gatewayOptions(cfg: AgentConfig): GatewayOptions {
  const i = cfg.interfaces;
  return {
    stateDir: cfg.stateDir,
    ...(cfg.trust.artifactKeys?.length ? { artifactKeys: cfg.trust.artifactKeys } : {}),
    ...(cfg.docker.host ? { dockerHost: cfg.docker.host } : {}),
    ...(cfg.docker.registryAuthFile ? { registryAuthFile: cfg.docker.registryAuthFile } : {}),
    engineWait: cfg.docker.engineWait,
    ...(i.dirs ? { interfacesDir: i.dirs } : {}),
    rebootCommand: i.rebootCommand,
    artifactCacheSize: i.artifactCacheSize,
    interfaceTimeout: i.timeout,
    interfaceStateTimeout: i.stateTimeouts,
    interfaceKillGrace: i.killGrace,
    rebootWait: i.rebootWait,
    ...(cfg.policy ? { policy: cfg.policy } : {}),
    engineWhenNeeded: true,
  };
}
