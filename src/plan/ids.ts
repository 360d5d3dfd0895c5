import type { StepKind, StepOf, StepTarget } from '../model/index.js';

export function targetName(t: StepTarget): string {
  switch (t.kind) {
    case 'component':
      return `component/${t.key}`;
    case 'service':
      return `service/${t.app}/${t.service}`;
    case 'image':
      return `image/${t.ref}`;
    case 'files':
      return `files/${t.app}/${t.hash.slice(0, 12)}`;
    case 'network':
      return `network/${t.app}/${t.name}`;
    case 'volume':
      return `volume/${t.app}/${t.name}`;
  }
}

/** `install component/G13`; a step on one container names it (`stop service/edge/api@3f2a9c1b0d4e`). */
export function stepId<K extends StepKind>(kind: K, target: StepOf<K>['target'], containerId?: string): string {
  return `${kind} ${targetName(target)}${containerId ? '@' + containerId.slice(0, 12) : ''}`;
}
