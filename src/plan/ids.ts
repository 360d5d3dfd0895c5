import type { StepKind, StepTarget } from '../model/index.js';

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

export function stepId(kind: StepKind, target: StepTarget, containerId?: string): string {
  return `${kind} ${targetName(target)}${containerId ? '@' + containerId.slice(0, 12) : ''}`;
}
