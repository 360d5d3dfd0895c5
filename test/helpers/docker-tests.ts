// Shared set-up for test files that need the real Docker Engine (docker*.test.ts).

import { DockerEnv, attachDockerEnv } from './docker-env.js';

/** The Engine and registry run-tests.mjs started; undefined (after a loud line) when there is none outside CI. */
export function requireDocker(): DockerEnv | undefined {
  const env = attachDockerEnv();
  if (env instanceof DockerEnv) return env;
  if (process.env['CI'] === 'true') throw new Error(`CI=true, and the Docker tests cannot run: ${env.missing}`);
  process.stderr.write(`\n!!! SKIPPING Docker tests: ${env.missing}\n\n`);
  return undefined;
}
