// What the benchmarks share: running a peer's command, and the median of a run's rounds.

import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DockerEnv, startDockerEnv, stopDockerEnv, type DockerEnvInfo } from '../test/helpers/docker-env.js';

/**
 * Runs a command to completion; rejects with its stderr when it fails. Asynchronous, so servers in this process keep
 * serving.
 */
export function run(cmd: string, args: string[], env: Record<string, string>, cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`)),
    );
  });
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export interface ComposeBench {
  info: DockerEnvInfo;
  env: DockerEnv;
  /** `DOCKER_HOST` for docker-compose, pointing at the private Engine. */
  dockerHost: Record<string, string>;
  composeVersion: string;
}

/** Starts a private Engine and registry for a run against docker-compose, and stops them after. */
export async function withComposeBench(fn: (b: ComposeBench) => Promise<void>): Promise<void> {
  if (spawnSync('sh', ['-c', 'command -v docker-compose']).status !== 0)
    throw new Error('docker-compose is missing (Debian package docker-compose)');
  const info = await startDockerEnv();
  const envFile = join(info.root, 'env.json');
  try {
    const composeVersion = spawnSync('docker-compose', ['version', '--short']).stdout.toString().trim();
    await fn({
      info,
      env: new DockerEnv(info, envFile),
      dockerHost: { DOCKER_HOST: `unix://${info.socket}` },
      composeVersion,
    });
  } finally {
    await stopDockerEnv(envFile);
  }
}
