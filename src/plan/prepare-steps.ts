// The prepare phase's container steps: images pulled and repo files written before anything
// running is touched (safety rule 1), each once per plan.

import type { DesiredApp, DesiredService, FilesTarget, ImageTarget } from '../model/index.js';
import type { Builder } from './builder.js';
import { stepId } from './ids.js';

/** `pull_policy: always` (or a period) pulls even a present image; `never` never pulls. */
export function pull(b: Builder, svc: DesiredService): void {
  const image = svc.config.image;
  const policy = svc.pullPolicy ?? 'missing';
  if (policy === 'never' || (policy === 'missing' && b.images.has(image))) return;
  const target: ImageTarget = { kind: 'image', ref: image };
  const id = stepId('pull', target);
  if (!b.pulled.has(image)) {
    b.pulled.add(image);
    b.prepare.push({
      id,
      kind: 'pull',
      target,
      dependsOn: [],
      image,
      ...(svc.config.platform ? { platform: svc.config.platform } : {}),
    });
  }
}

/** Repo files a new container mounts are written before anything running is touched. */
export function writeFiles(b: Builder, app: DesiredApp, svc: DesiredService): void {
  for (const hash of svc.config.files ?? []) {
    const target: FilesTarget = { kind: 'files', app: app.name, hash };
    const id = stepId('write-files', target);
    if (b.written.has(id)) continue;
    b.written.add(id);
    const tree = app.files?.find((t) => t.hash === hash);
    b.prepare.push({
      id,
      kind: 'write-files',
      target,
      dependsOn: [],
      to: `${tree?.entries.length ?? 0} file${tree?.entries.length === 1 ? '' : 's'}`,
    });
  }
}
