// Fleet repo files that containers mount: written in the prepare phase, content-addressed, and
// pruned after a confirmed change when neither the desired state nor any container uses them.

import type { StepContext } from '../applier.js';
import { keep, type HandlerTable } from '../step-handlers.js';
import { findApp, type DockerEnv } from './env.js';
import { pruneTrees, writeTree } from './files.js';
import { LABEL } from './labels.js';

/** Copies of repo files that neither the desired state nor any container still uses. */
export async function pruneFiles(env: DockerEnv, ctx: StepContext): Promise<void> {
  if (!ctx.desired) return; // a resumed apply: the next one prunes, knowing what is wanted
  const wanted = new Set<string>();
  for (const app of ctx.desired.apps) for (const f of app.files ?? []) wanted.add(`${app.name}/${f.hash}`);
  const root = env.paths.files + '/';
  for (const c of await env.engine.call((d) =>
    d.listContainers({ all: true, filters: JSON.stringify({ label: [LABEL.app] }) }),
  )) {
    for (const m of c.Mounts ?? [])
      if (m.Source?.startsWith(root)) wanted.add(m.Source.slice(root.length).split('/').slice(0, 2).join('/'));
  }
  const removed = await pruneTrees(env.paths.files, (app, hash) => wanted.has(`${app}/${hash}`));
  if (removed.length)
    ctx.log.info(
      { removed },
      `removed ${removed.length} cop${removed.length === 1 ? 'y' : 'ies'} of fleet repo files that nothing ` +
        `uses any more`,
    );
}

export const FILE_STEPS = {
  'write-files': {
    run: async (env, step, ctx) => {
      const t = step.target;
      const tree = findApp(ctx, t.app).files?.find((f) => f.hash === t.hash);
      if (!tree)
        throw new Error(
          `files ${t.hash.slice(0, 12)} of app "${t.app}" are not in the desired state this step was planned from`,
        );
      if (await writeTree(env.paths.files, t.app, tree))
        ctx.log.info(
          { app: t.app, files: t.hash.slice(0, 12), count: tree.entries.length },
          `wrote ${tree.entries.length} file(s) of ${t.app} from the fleet repo`,
        );
      return {};
    },
    // Content-addressed copies hurt nothing: finalize prunes those nothing uses.
    undo: keep,
  },
} satisfies HandlerTable<'write-files', DockerEnv>;
