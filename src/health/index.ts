export { probe, type ContainerStates, type ProbeEnv, type ProbeResult } from './probes.js';
export { healthWindow, HealthFailedError, type CheckTally, type HealthVerdict, type WindowOptions } from './window.js';
export { dockerContainerStates, configHashesOf } from './docker-states.js';
