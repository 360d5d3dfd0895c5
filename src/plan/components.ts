// The steps of the components that change: downloaded in prepare, installed and (if their
// interface asks) rebooted in their stage, committed in finalize in the order the stages ran —
// each stage's commits after the previous stage's — and cleaned up after their commit.

import type { ComponentTarget, DesiredComponent, Step } from '../model/index.js';
import type { Builder } from './builder.js';
import { stepId } from './ids.js';

const targetOf = (c: DesiredComponent): ComponentTarget => ({ kind: 'component', key: c.key, type: c.type });

/** Download, install and reboot of the components of one stage; the install and reboot go into `steps`. */
export function planComponents(
  b: Builder,
  components: DesiredComponent[],
  observed: ReadonlyMap<string, { version?: string }>,
  steps: Step[],
): void {
  for (const c of components) {
    const target = targetOf(c);
    const obs = observed.get(c.key)?.version;
    const from = obs !== undefined ? { from: obs } : {};
    b.prepare.push({
      id: stepId('download', target),
      kind: 'download',
      target,
      dependsOn: [],
      ...from,
      to: c.version,
      artifact: c.artifact,
    });
    steps.push({ id: stepId('install', target), kind: 'install', target, dependsOn: [], ...from, to: c.version });
    steps.push({
      id: stepId('reboot', target),
      kind: 'reboot',
      target,
      dependsOn: [stepId('install', target)],
      to: c.version,
    });
    b.changes.push({
      action: obs === undefined ? 'add' : 'change',
      target,
      ...from,
      to: c.version,
      reason: obs === undefined ? 'version not known on the gateway' : 'new version',
    });
  }
}

/** Commit last, in the order the stages ran, each stage's commits after the previous stage's. */
export function planCommits(b: Builder, componentStages: DesiredComponent[][]): void {
  let prevCommits: string[] = [];
  for (const layer of componentStages) {
    const ids: string[] = [];
    for (const c of layer) {
      const id = stepId('commit', targetOf(c));
      b.finalize.push({ id, kind: 'commit', target: targetOf(c), dependsOn: prevCommits, to: c.version });
      ids.push(id);
    }
    prevCommits = ids;
  }
}

/** Each component's Cleanup, after its commit. */
export function planCleanups(b: Builder, componentStages: DesiredComponent[][]): void {
  for (const layer of componentStages) {
    for (const c of layer) {
      const target = targetOf(c);
      b.finalize.push({
        id: stepId('cleanup', target),
        kind: 'cleanup',
        target,
        dependsOn: [stepId('commit', target)],
      });
    }
  }
}
