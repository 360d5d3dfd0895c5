// The rollgate Constraints file. Names refer to component keys or component types; the planner
// checks transitions, and the loader checks here that the desired state is an acceptable end.

import type { Constraints, DesiredComponent, VersionPattern } from '../model/index.js';
import type { LoadContext } from './context.js';
import type { YamlFile } from './yaml-file.js';

export function emptyConstraints(): Constraints {
  return { endStates: [], order: [], forbidden: [], allowedTransitions: [] };
}

type RawCombination = { name: string; versions: Record<string, string | string[]> };

function pattern(c: RawCombination): { name: string; versions: VersionPattern } {
  return {
    name: c.name,
    versions: Object.fromEntries(Object.entries(c.versions).map(([k, v]) => [k, Array.isArray(v) ? v : [v]])),
  };
}

/** Components a constraint name refers to: a component key (or id) first, else a type. */
export function componentsNamed<C extends { key: string; type: string; id?: string }>(
  name: string,
  components: C[],
): C[] {
  const byKey = components.filter((c) => c.key === name || c.id === name);
  return byKey.length > 0 ? byKey : components.filter((c) => c.type === name);
}

/** Every component named has one of the listed versions ("*" is any, even unknown). */
export function matchesEvery(p: VersionPattern, versionOf: (name: string) => (string | undefined)[]): boolean {
  return Object.entries(p).every(([name, allowed]) => {
    const vs = versionOf(name);
    return vs.length > 0 && vs.every((v) => allowed.includes('*') || (v !== undefined && allowed.includes(v)));
  });
}

/** For every name, some component named has one of the listed versions. */
export function matchesSome(p: VersionPattern, versionOf: (name: string) => (string | undefined)[]): boolean {
  return Object.entries(p).every(([name, allowed]) =>
    versionOf(name).some((v) => allowed.includes('*') || (v !== undefined && allowed.includes(v))),
  );
}

export function loadConstraints(ctx: LoadContext, y: YamlFile, components: DesiredComponent[]): Constraints {
  const doc = y.value as {
    endStates?: RawCombination[];
    order?: { name: string; before: string; after: string }[];
    transitions?: { allowed?: RawCombination[]; forbidden?: RawCombination[] };
  };
  const known = (name: string) => componentsNamed(name, components).length > 0;
  const checkNames = (list: RawCombination[] | undefined, path: (string | number)[]) =>
    (list ?? []).forEach((c, i) => {
      for (const n of Object.keys(c.versions)) {
        if (!known(n))
          ctx.at(
            { y, path: [...path, i, 'versions', n] },
            `constraint "${c.name}" names "${n}", which is neither a component id nor a component type of this system`,
            'key',
          );
      }
    });
  checkNames(doc.endStates, ['endStates']);
  checkNames(doc.transitions?.allowed, ['transitions', 'allowed']);
  checkNames(doc.transitions?.forbidden, ['transitions', 'forbidden']);
  (doc.order ?? []).forEach((o, i) => {
    for (const k of ['before', 'after'] as const) {
      if (!known(o[k]))
        ctx.at(
          { y, path: ['order', i, k] },
          `order rule "${o.name}" names "${o[k]}", which is neither a component id nor a component type of this system`,
        );
    }
    if (o.before === o.after)
      ctx.at({ y, path: ['order', i] }, `order rule "${o.name}" puts "${o.before}" before itself`);
  });
  const c: Constraints = {
    endStates: (doc.endStates ?? []).map(pattern),
    order: (doc.order ?? []).map((o) => ({ name: o.name, before: o.before, after: o.after })),
    forbidden: (doc.transitions?.forbidden ?? []).map(pattern),
    allowedTransitions: (doc.transitions?.allowed ?? []).map(pattern),
  };
  const desiredVersions = (name: string) => componentsNamed(name, components).map((x) => x.version);
  if (c.endStates.length > 0 && !c.endStates.some((e) => matchesEvery(e.versions, desiredVersions))) {
    const state = components.map((x) => `${x.key}=${x.version}`).join(', ');
    ctx.at(
      { y, path: ['endStates'] },
      `the desired state (${state}) is not an acceptable end state ` +
        `(acceptable: ${c.endStates.map((e) => e.name).join(', ')})`,
    );
  }
  const hit = c.forbidden.find((f) => matchesSome(f.versions, desiredVersions));
  if (hit)
    ctx.at(
      { y, path: ['transitions', 'forbidden', c.forbidden.indexOf(hit)] },
      `the desired state itself matches the forbidden combination "${hit.name}"`,
    );
  return c;
}
