// What `rollgate artifacts lock` must fetch: the artifact names that manifests give without an
// artifact_path and that the repo's artifact directories do not hold. Reads git objects or a
// working tree only; fetching and writing the lock file are the CLI's.

import { LoadContext } from './context.js';
import { FLEET_FILE, type FleetDoc } from './fleet.js';
import { ArtifactIndex, artifactDirs } from './artifact-source.js';
import { manifestFromArtifact } from './mender.js';
import { Problems } from './problems.js';
import type { RepoSource } from './source.js';

export interface LockNeeds {
  store?: string;
  /** Names to fetch from the store, sorted. */
  names: string[];
  /** Names found in the repo, which need no lock entry. */
  inRepo: string[];
  problems: Problems['list'];
}

export async function artifactsToLock(source: RepoSource): Promise<LockNeeds> {
  const problems = new Problems();
  const ctx = new LoadContext(source, problems);
  const fleetY = await ctx.yaml(undefined, FLEET_FILE, 'fleet', 'fleet file');
  if (!fleetY) return { names: [], inRepo: [], problems: problems.list };
  const fleet = fleetY.value as FleetDoc;
  const want = new Set<string>();
  const inRepo = new Set<string>();
  for (const [name, sys] of Object.entries(fleet.systems)) {
    if (!sys.manifest) continue;
    const at = { y: fleetY, path: ['systems', name, 'manifest'] };
    const path = ctx.resolve(at, sys.manifest);
    if (!path) continue;
    const m = path.endsWith('.mender')
      ? await manifestFromArtifact(ctx, at, path)
      : await ctx.parse(at, path, 'manifest');
    const types =
      (m?.value as { component_types?: Record<string, { artifact_path?: string; artifact_name?: string }> } | undefined)
        ?.component_types ?? {};
    const named = Object.values(types)
      .filter((t) => t.artifact_path === undefined && typeof t.artifact_name === 'string')
      .map((t) => t.artifact_name!);
    for (const target of fleet.targets.filter((t) => t.system === name)) {
      for (const o of Object.values(target.overrides?.component_types ?? {}))
        if (o.artifact_path === undefined && o.artifact_name) named.push(o.artifact_name);
    }
    const dirs = artifactDirs(ctx, { y: fleetY, path: ['systems', name, 'artifacts'] }, sys.artifacts);
    const index = await new ArtifactIndex(ctx, { dirs }).byName();
    for (const n of named) (index.has(n) ? inRepo : want).add(n);
  }
  return {
    ...(fleet.artifact_store ? { store: fleet.artifact_store } : {}),
    names: [...want].sort(),
    inRepo: [...inRepo].sort(),
    problems: problems.list,
  };
}
