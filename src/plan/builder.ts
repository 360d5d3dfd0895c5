// What a plan is built into while the planner walks the desired state: the prepare and finalize
// steps, the changes, each app's steps until the stages are known, and indexes of what the
// gateway has, built once so planning stays linear in the size of the gateway.

import type { Change, DesiredApp, ObservedState, Step } from '../model/index.js';

type ObservedNetwork = ObservedState['networks'][number];
type ObservedVolume = ObservedState['volumes'][number];

export const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function push<K, V>(m: Map<K, V[]>, key: K, v: V): void {
  const list = m.get(key);
  if (list) list.push(v);
  else m.set(key, [v]);
}

function group(m: Map<string, Set<string>>, key: string): Set<string> {
  let s = m.get(key);
  if (!s) m.set(key, (s = new Set()));
  return s;
}

export class Builder {
  readonly prepare: Step[] = [];
  readonly finalize: Step[] = [];
  readonly changes: Change[] = [];
  /** Images pulled and repo files written already (each once per plan). */
  readonly pulled = new Set<string>();
  readonly written = new Set<string>();
  /** Steps per app, built before stages are known. */
  readonly appSteps = new Map<string, Step[]>();
  readonly appFinalize = new Map<string, Step[]>();

  /** Indexes built once, so planning stays linear in the size of the gateway. */
  readonly images: Set<string>;
  readonly networksByApp = new Map<string, Set<string>>();
  /** The gateway's network of an app by name (the first, as a search would find it). */
  private readonly networkByName = new Map<string, ObservedNetwork>();
  /** The gateway's volumes of an app by name, in the gateway's order. */
  private readonly volumesByName = new Map<string, ObservedVolume[]>();
  readonly imagesWithoutHealthcheck: Set<string>;
  readonly volumesByApp = new Map<string, Set<string>>();
  readonly engineNames = new Map<string, string>();
  readonly moved: Set<string>;

  constructor(readonly observed: ObservedState) {
    this.images = new Set(observed.images);
    this.moved = new Set(observed.movedImages ?? []);
    this.imagesWithoutHealthcheck = new Set(observed.imagesWithoutHealthcheck ?? []);
    for (const n of observed.networks) {
      group(this.networksByApp, n.app).add(n.name);
      const key = `${n.app}\0${n.name}`;
      if (!this.networkByName.has(key)) this.networkByName.set(key, n);
      if (n.engineName) this.engineNames.set(`network/${n.app}/${n.name}`, n.engineName);
    }
    for (const v of observed.volumes) {
      group(this.volumesByApp, v.app).add(v.name);
      push(this.volumesByName, `${v.app}\0${v.name}`, v);
      if (v.engineName) this.engineNames.set(`volume/${v.app}/${v.name}`, v.engineName);
    }
  }

  observedNetwork(app: string, name: string): ObservedNetwork | undefined {
    return this.networkByName.get(`${app}\0${name}`);
  }

  observedVolumes(app: string, name: string): readonly ObservedVolume[] {
    return this.volumesByName.get(`${app}\0${name}`) ?? [];
  }
}

/** One app's steps as they are planned, resource by resource. */
export interface AppSteps {
  readonly app: DesiredApp;
  /** Its steps in its stage, and in finalize. */
  readonly steps: Step[];
  readonly fin: Step[];
  /** Networks whose definition changed: made again, with the containers on them. */
  readonly recreated: Set<string>;
  /** Ids of the recreate-network steps: a container on such a network is created after them. */
  readonly recreateIds: string[];
  /**
   * Stops every recreate-network step waits for (the containers on it must be stopped first): the
   * very list those steps depend on, filled as the services are planned.
   */
  readonly stopsBeforeRecreate: string[];
  /** Ids of the networks and volumes made new: containers are created after them. */
  readonly infra: string[];
}
