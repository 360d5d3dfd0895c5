// Mender Orchestrator's public demo as the tests use it: where it is, the README's command for its
// rtos artifacts, and a fleet file for one of its manifests.

import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './fixtures.js';

export const DEMO = join(projectRoot, 'test/fixtures/mender-demo');

/** The README's command for the rtos artifacts, with the device (and payload) type given. */
export function buildAsReadme(dir: string, device: string, version: string, type = device): string {
  const payload = join(dir, `${version}-payload`);
  writeFileSync(payload, '');
  const out = join(dir, `${version}.mender`);
  execFileSync(
    'mender-artifact',
    [
      'write',
      'module-image',
      '--type',
      type,
      '--device-type',
      device,
      '--provides',
      `version:${version}`,
      '--clears-provides',
      'version.*',
      '--no-default-clears-provides',
      '--no-default-software-version',
      '--file',
      payload,
      '--output-path',
      out,
      '--artifact-name',
      version,
    ],
    { stdio: 'ignore' },
  );
  rmSync(payload);
  return out;
}

export const FLEET = (manifest: string, extra = '') =>
  `apiVersion: rollgate/v1\nkind: Fleet\n${extra}systems:\n  demo:\n    manifest: ${manifest}\ntargets:\n  - { ` +
  `name: all, match: { any: true }, system: demo }\n`;
