// The chaos test's gateway and its vocabulary (test/agent/docker-chaos.test.ts): the fleet lab with a
// web app and simulated devices, healthy or not, the faults, the verdicts that end a commit, and the
// seeded PRNG the moments and faults come from.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FleetLab } from './fleet-lab.js';

export const GIT_PORT = 18630;
export const WEB_PORT = 18621;
export const APP = 'chaos';

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const FAULTS = [
  // The agent alone (its worker runs on until the next start kills it), its worker alone (the agent
  // lives on and its next worker resumes the journal), both at once (a power cut to rollgate).
  'agent-kill',
  'worker-kill',
  'both-kill',
  'interface-kill',
  'dockerd-term',
  'dockerd-kill',
  'git-down',
  'git-cut',
  'disk-full',
] as const;
export type Fault = (typeof FAULTS)[number];

/** Verdicts that end a commit; the history says `applied` for both applied and no-change. */
export const FINAL = new Set([
  'applied',
  'no-change',
  'rolled-back',
  'last-good-unhealthy',
  'rollback-incomplete',
  'rejected',
]);
/** Verdicts that leave the gateway stalled until it is looked at again. */
export const STALLED = new Set(['rollback-incomplete', 'last-good-unhealthy']);

export interface Pushed {
  commit: string;
  round: number;
  good: boolean;
  /** The devices' version suffix (v1..v3) and the web service's V. */
  version: string;
  v: number;
  fault: Fault;
  /** The Engine came back from its SIGKILL holding the app's port for no running container (see heldPort). */
  engineHeldPort?: boolean;
}

export class ChaosLab extends FleetLab {
  image = '';

  /** Devices on `version`, the app's web service with V=`v`; healthy or not (the devices check fails). */
  writeChaos(version: string, v: number, healthy: boolean): void {
    this.write(version, healthy);
    const fleet = join(this.repo, 'rollgate.yaml');
    writeFileSync(
      fleet,
      [
        'apiVersion: rollgate/v1',
        'kind: Fleet',
        'systems:',
        '  sim:',
        '    manifest: manifest.yaml',
        '    health: health.yaml',
        '    apps:',
        `      ${APP}: apps/${APP}/compose.yaml`,
        'targets:',
        '  - name: all',
        '    match: { any: true }',
        '    system: sim',
        '',
      ].join('\n'),
    );
    mkdirSync(join(this.repo, 'apps', APP), { recursive: true });
    // No restart policy: a container the Engine stops on its way down stays down until rollgate starts it.
    writeFileSync(
      join(this.repo, 'apps', APP, 'compose.yaml'),
      `services:\n  web:\n    image: ${this.image}\n    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]\n` +
        `    init: true\n    stop_grace_period: 1s\n    environment: { V: "${v}" }\n    ports: ` +
        `["127.0.0.1:${WEB_PORT}:8080"]\n`,
    );
    const probe = healthy ? this.devices : join(this.root, 'nothing-here');
    writeFileSync(
      join(this.repo, 'health.yaml'),
      `apiVersion: rollgate/v1\nkind: Health\nwindow: 600ms\ndeadline: 20s\ndefaults: { interval: 150ms, ` +
        `timeout: 2s, failureThreshold: 2 }\nchecks:\n  - name: devices-answer\n    command: { argv: [test, ` +
        `-d, ${JSON.stringify(probe)}] }\n  - name: web-answers\n    http: { url: "http://127.0.0.1:${WEB_PORT}/", ` +
        `expectStatus: [200] }\n  - name: web-running\n    container: { app: ${APP}, service: web }\n`,
    );
  }
}
