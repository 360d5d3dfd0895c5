// An app's own maintenance window, `x-rollgate.window` in its Compose file (README "Maintenance
// windows"): the fleet file's window, checked by the same schema definition and the same rules (a
// time zone the system knows, a cron croner reads, an opening long enough for a transaction).

import type { MaintenanceWindow } from '../../model/index.js';
import type { LoadContext } from '../context.js';
import { validateSchema } from '../schema.js';
import { resolveWindow, type WindowDoc } from '../window.js';
import type { YamlFile } from '../yaml-file.js';

/** The window the Compose file `y` of app `app` gives it; undefined (with problems) when it does not hold. */
export function appWindow(ctx: LoadContext, y: YamlFile, app: string): MaintenanceWindow | undefined {
  if (!validateSchema('compose-x-rollgate', y, ctx.problems)) return undefined;
  const doc = (y.value as { 'x-rollgate': { window: WindowDoc } })['x-rollgate'].window;
  const r = resolveWindow(doc, ['x-rollgate', 'window'], `app ${app}'s x-rollgate.window`);
  for (const issue of r.issues) ctx.at({ y, path: issue.path }, issue.message);
  return r.window;
}
