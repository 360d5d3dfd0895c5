// Mender state scripts from the fleet repo: a system's `state_scripts:` directory of executables
// named as Mender names them — `<State>_<Enter|Leave|Error>_<NN>[_description]` — loaded from
// the commit with their content, so every gateway runs exactly the committed scripts.

import { createHash } from 'node:crypto';
import type { ScriptAction, ScriptState, StateScript } from '../model/index.js';
import type { At, LoadContext } from './context.js';

export const SCRIPT_STATES: readonly ScriptState[] = [
  'Download',
  'ArtifactInstall',
  'ArtifactReboot',
  'ArtifactCommit',
  'ArtifactRollback',
  'ArtifactFailure',
  'Health',
  'Apps',
];

const NAME = /^([A-Za-z]+)_(Enter|Leave|Error)_([0-9]{2})(_[A-Za-z0-9._-]+)?$/;
const MAX_SCRIPTS = 100;
const MAX_BYTES = 1024 * 1024;

/** The scripts of a state_scripts directory, sorted by name; problems reported at `at`. */
export async function loadStateScripts(ctx: LoadContext, at: At, dir: string): Promise<StateScript[]> {
  const tree = await ctx.source.tree(dir, { maxBytes: MAX_BYTES, maxFiles: MAX_SCRIPTS }).catch((err: Error) => {
    ctx.at(at, `state_scripts ${dir}: ${err.message}`);
    return undefined;
  });
  if (tree === undefined) return [];
  if (tree === null || tree.kind !== 'dir') {
    ctx.at(at, `state_scripts: ${dir} is not a directory of the repo`);
    return [];
  }
  const out: StateScript[] = [];
  for (const e of tree.entries) {
    const where = `state_scripts: ${dir}/${e.path}`;
    if (e.path.includes('/')) {
      ctx.at(at, `${where} is in a subdirectory; state scripts sit directly in ${dir}`);
      continue;
    }
    const m = NAME.exec(e.path);
    if (!m) {
      ctx.at(at, `${where} is not named as a state script: <State>_<Enter|Leave|Error>_<NN>[_description]`);
      continue;
    }
    const state = m[1] as ScriptState;
    if (m[1] === 'ArtifactRollbackReboot') {
      ctx.at(
        at,
        `${where}: rollgate does not run ArtifactRollbackReboot scripts (a component's rollback reboot happens ` +
          'inside its interface); use ArtifactRollback scripts',
      );
      continue;
    }
    if (!SCRIPT_STATES.includes(state)) {
      ctx.at(at, `${where}: "${m[1]}" is not a state scripts run at (${SCRIPT_STATES.join(', ')})`);
      continue;
    }
    if ((e.mode & 0o111) === 0) {
      ctx.at(at, `${where} is not executable in the commit (git update-index --chmod=+x ${dir}/${e.path})`);
      continue;
    }
    const bytes = Buffer.from(e.bytes);
    out.push({
      name: e.path,
      state,
      action: m[2] as ScriptAction,
      base64: bytes.toString('base64'),
      sha256: createHash('sha256').update(bytes).digest('hex'),
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
