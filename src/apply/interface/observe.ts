// What the components run, asked of their interfaces (`Identity`, `Provides`, `Inventory`) in a
// throwaway work directory, so observation has no side effects; and the records rollgate keeps.

import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ObservedComponent } from '../../model/index.js';
import type { Log } from '../../base/log.js';
import { readRecord, type ComponentRecord } from './component-record.js';
import { message, type InterfaceEnv } from './env.js';
import { InterfaceError } from './invoke.js';
import { parseIdentity, parseKeyValues, providedVersion, type InterfaceTarget } from './protocol.js';
import { prepareWorkDir } from './work-dir.js';

/** Every component record, by key: what was last committed on each, and any update in flight. */
export async function records(env: InterfaceEnv): Promise<ComponentRecord[]> {
  const out: ComponentRecord[] = [];
  let names: string[] = [];
  try {
    names = await readdir(env.componentsDir);
  } catch {
    return out;
  }
  for (const n of names.sort()) {
    const r = await readRecord(join(env.componentsDir, n, 'state.json'));
    if (r) out.push(r);
  }
  return out;
}

export async function observeOne(
  env: InterfaceEnv,
  t: InterfaceTarget,
  log: Log,
  deviceType: string,
): Promise<ObservedComponent> {
  const dirs = env.dirs(t.key);
  const rec = await readRecord(dirs.record);
  // Queries are stateless: a throwaway work directory keeps observation free of side effects.
  const work = await mkdtemp(join(tmpdir(), 'rollgate-query-'));
  try {
    await prepareWorkDir(
      work,
      {
        version: await env.protocolVersion(t.interface),
        artifactName: rec?.installed ?? '',
        artifactGroup: '',
        deviceType: env.opts.deviceType ?? deviceType,
      },
      false,
    );
    return await query(env, t, rec, work, log);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function query(
  env: InterfaceEnv,
  t: InterfaceTarget,
  rec: ComponentRecord | undefined,
  work: string,
  log: Log,
): Promise<ObservedComponent> {
  const id = t.id ?? (await env.ask(t, 'Identity', work, log, parseIdentity));
  const provides = await env.ask(t, 'Provides', work, log, (s) => parseKeyValues('Provides', s));
  const inventory = await env.ask(t, 'Inventory', work, log, (s) => parseKeyValues('Inventory', s));
  let version: string | undefined;
  try {
    version = providedVersion(provides, t.interface);
  } catch (err) {
    throw new InterfaceError(
      { name: t.interface, component: t.key, state: 'Provides' },
      `protocol error: ${message(err)}`,
    );
  }
  // Update Modules provide nothing themselves: what rollgate last committed stands in.
  version ??= rec?.installed;
  return {
    key: t.key,
    type: t.type,
    id,
    ...(version !== undefined ? { version } : {}),
    ...(Object.keys(inventory).length ? { inventory } : {}),
    ...(Object.keys(provides).length ? { provides } : {}),
  };
}
