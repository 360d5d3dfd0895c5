// The differences between what Docker Compose v2 and rollgate make of one Compose file that the
// comparison allows (test/apply/docker-compose-fidelity.test.ts), each with its reason and the
// condition it holds under. Anything else fails the test.

import { EMPTY } from './compose-flatten.js';

export interface Seen {
  /** The field's values, as JSON or text (undefined: the tool did not set it). */
  compose: string | undefined;
  rollgate: string | undefined;
  path: string;
  /** The service whose container this is (undefined for networks and volumes). */
  service: string | undefined;
  /** Every field of the two objects. */
  composeAll: Map<string, string>;
  rollgateAll: Map<string, string>;
}

export interface Allowed {
  /** What differs. */
  path: RegExp;
  why: string;
  /** The difference is allowed only when this holds. */
  holds: (s: Seen) => boolean;
}

const list = (v: string | undefined): string[] => (v === undefined || v === EMPTY ? [] : (JSON.parse(v) as string[]));
/** `a` without one occurrence of each of `drop`. */
function without(a: string[], drop: string[]): string[] {
  const out = [...a];
  for (const d of drop) {
    const i = out.indexOf(d);
    if (i >= 0) out.splice(i, 1);
  }
  return out;
}
/** A link Compose adds under its own container naming: `<container of db>:db-1`, `…:<project>-db-1`. */
function composeNaming(link: string): boolean {
  const m = /^<container of (.+)>:(.*)$/.exec(link);
  return !!m && m[2]!.endsWith(`${m[1]}-1`) && m[2] !== m[1];
}
const same = (a: string[], b: string[]) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

/**
 * Known differences, each with its reason. Anything else fails the test: a Compose key rollgate
 * reads differently shows up here first.
 */
export const ALLOWED: Allowed[] = [
  {
    path: /^Config\.Attach(Stdout|Stderr)$/,
    why:
      'Compose makes every container ready for `docker compose up` to attach to its output; nothing attaches to ' +
      'a container rollgate runs, and a detached container is the same either way',
    holds: (s) => s.compose === 'true' && s.rollgate === 'false',
  },
  {
    path: /^NetworkSettings\.Networks\.[^.]+\.Aliases$/,
    why:
      "Compose adds its container name (`<project>-<service>-1`) as an alias on every network; rollgate's " +
      'container names carry the configuration hash and change with every update, so they are no name to reach ' +
      "a service by (the service name and the file's aliases are the same)",
    holds: (s) => same(without(list(s.compose), [`<container of ${s.service}>`]), list(s.rollgate)),
  },
  {
    path: /^NetworkSettings\.Networks\.[^.]+\.Links$/,
    why:
      'Compose also links the linked container under its own naming, `<service>-1` and `<project>-<service>-1`; ' +
      'rollgate links the alias and the service name the file gives (its container names change with updates)',
    holds: (s) =>
      same(
        list(s.compose).filter((l) => !composeNaming(l)),
        list(s.rollgate),
      ),
  },
  {
    path: /^Config\.ExposedPorts\.[0-9]+(-[0-9]+)?$/,
    why:
      'Compose sends an `expose:` port as written ("3000"), rollgate with its protocol ("3000/tcp"); the Engine ' +
      'reads a port without a protocol as tcp',
    holds: (s) => s.compose === EMPTY && s.rollgate === undefined && s.rollgateAll.get(`${s.path}/tcp`) === EMPTY,
  },
  {
    path: /^Config\.ExposedPorts\.[0-9]+\/tcp$/,
    why: 'the same port as above, on the other side',
    holds: (s) =>
      s.compose === undefined && s.rollgate === EMPTY && s.composeAll.get(s.path.replace(/\/tcp$/, '')) === EMPTY,
  },
  {
    path: /^Request\[[^\]]+\]\.via$/,
    why:
      "Compose sends a short-syntax bind through the Engine's legacy Binds list (so that the Engine creates a " +
      'missing host path); rollgate makes missing host paths itself and sends every mount through Mounts (Binds ' +
      'only for an SELinux relabel, which Mounts cannot ask for). The mount itself is compared field by field',
    holds: (s) => s.compose === 'Binds' && s.rollgate === 'Mounts',
  },
  {
    path: /^Mounts\[[^\]]+\]\.Mode$/,
    why:
      'the same: the Engine shows a Binds entry\'s options ("rw", "ro") as the mount\'s Mode, and a Mounts entry\'s ' +
      'as ""; RW and Propagation are compared',
    holds: (s) =>
      /^(rw|ro)$/.test(s.compose ?? '') &&
      s.rollgate === '' &&
      s.composeAll.get(s.path.replace(/Mode$/, 'Type')) === 'bind',
  },
];
