// A gateway install carries no database drivers (a gateway never runs the hub: issue 26), so the
// hub's modules fail to load there; this says what to install instead of Node's bare resolution error.

import { readFileSync } from 'node:fs';

/** The packages the hub's database needs: package.json's peerDependencies, with their versions. */
function hubDrivers(): [string, string][] {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    peerDependencies?: Record<string, string>;
  };
  return Object.entries(pkg.peerDependencies ?? {});
}

/** A clear error when `err` is the hub's modules failing to find a driver; otherwise `err` itself. */
export function hubDriversMissing(err: unknown): unknown {
  if (!(err instanceof Error) || (err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') return err;
  const drivers = hubDrivers();
  const missing = drivers.find(([d]) => err.message.includes(`'${d}'`))?.[0];
  if (!missing) return err;
  return new Error(
    `the hub's database drivers are not installed (${missing} is missing): this is a gateway install, which ` +
      `leaves them out. On the hub's machine install them beside rollgate, with the prefix rollgate was ` +
      `installed with: npm install -g --prefix /opt/rollgate ${drivers.map(([d, v]) => `${d}@${v}`).join(' ')}`,
  );
}
