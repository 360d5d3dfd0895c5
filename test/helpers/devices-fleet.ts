// The demo's fleet with devices only: fleet-repo-example's three simulated devices, its app left
// out (no Docker Engine needed), committed and pushed to a bare repository a git server serves.
// The agent at rest on it is what bench/agent-idle.ts measures and test/cli/lazy-loading.test.ts
// looks into.

import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ExampleCopy, FLEET, HEALTH, MANIFEST } from './example-copy.js';
import { projectRoot, tempDir } from './fixtures.js';
import type { Keyring, SigningKey } from './signing.js';

/** The agent's arguments for this fleet, after --repo. */
export const DEVICES_FLEET_AGENT_ARGS = [
  '--ref',
  'main',
  '--id',
  'gw-0042',
  '--label',
  'role=gateway',
  '--interfaces-dir',
  join(projectRoot, 'fleet-repo-example/interfaces'),
];

/**
 * Commits the fleet (signed with `key` when given) and pushes it to `<srv>/<name>`; returns the
 * temporary directories it made (the working tree, the devices), for the caller to remove.
 */
export function pushDevicesFleet(
  srv: string,
  o: {
    name?: string;
    key?: SigningKey;
    keyring?: Keyring;
    /** An app `bench` of this many services of `image`, each sleeping, in place of the demo's app. */
    app?: { image: string; services: number };
  } = {},
): string[] {
  const bare = join(srv, o.name ?? 'fleet.git');
  const ex = new ExampleCopy();
  const devices = tempDir('devices-');
  ex.edit(
    FLEET,
    /\n {4}apps:\n {6}edge: [^\n]*/,
    o.app ? '\n    apps:\n      bench: systems/gateway/apps/bench.yaml' : '',
  );
  ex.edit(FLEET, /\n {4}overrides:(\n {6}.*)+/, '');
  if (o.app) {
    const services = Array.from({ length: o.app.services }, (_, i) =>
      [`  s${i}:`, `    image: ${o.app!.image}`, '    init: true', '    command: ["sleep", "86400"]'].join('\n'),
    );
    ex.write('systems/gateway/apps/bench.yaml', `services:\n${services.join('\n')}\n`);
  }
  ex.write(MANIFEST, ex.read(MANIFEST).replaceAll('/var/lib/rollgate-example/', `${devices}/`));
  ex.write(
    HEALTH,
    `apiVersion: rollgate/v1\nkind: Health\nwindow: 1s\ndeadline: 30s\ndefaults: { interval: 250ms, timeout: 1s ` +
      `}\nchecks:\n  - name: gateway-running\n    command: { argv: [test, -s, ${devices}/G13/running] }\n`,
  );
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=Ops', '-c', 'user.email=ops@example.com', ...args], {
      cwd: ex.dir,
      ...(o.keyring ? { env: o.keyring.env } : {}),
    });
  mkdirSync(srv, { recursive: true });
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git(...(o.key ? [...o.key.gitConfig, 'commit', '-S'] : ['commit']), '-q', '-m', 'system v2');
  git('push', '-q', bare, 'main');
  return [ex.dir, devices];
}
