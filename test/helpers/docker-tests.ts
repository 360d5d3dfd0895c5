// Shared set-up for test files that need the real Docker Engine (docker*.test.ts).

import type Docker from 'dockerode';
import { LABEL } from '../../src/apply/index.js';
import { DockerEnv, attachDockerEnv } from './docker-env.js';

/** The Engine and registry run-tests.mjs started; undefined (after a loud line) when there is none outside CI. */
export function requireDocker(): DockerEnv | undefined {
  const env = attachDockerEnv();
  if (env instanceof DockerEnv) return env;
  if (process.env['CI'] === 'true') throw new Error(`CI=true, and the Docker tests cannot run: ${env.missing}`);
  process.stderr.write(`\n!!! SKIPPING Docker tests: ${env.missing}\n\n`);
  return undefined;
}

/** Removes what a test app left on the Engine: its containers, and the networks and volumes named. */
export async function removeApp(
  docker: Docker,
  app: string,
  o: { networks?: string[]; volumes?: string[] } = {},
): Promise<void> {
  const filters = JSON.stringify({ label: [`${LABEL.app}=${app}`] });
  for (const c of await docker.listContainers({ all: true, filters }))
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => {});
  for (const n of o.networks ?? [])
    await docker
      .getNetwork(n)
      .remove()
      .catch(() => {});
  for (const v of o.volumes ?? [])
    await docker
      .getVolume(v)
      .remove()
      .catch(() => {});
}
