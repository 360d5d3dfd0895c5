// The agent's configuration and state directory as the commands that work on a gateway's agent
// find them: `rollgate agent` itself, and sync, status, history and forget, which need only the
// state directory (from --state-dir, else the configuration).

import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { loadAgentConfig, type LoadedConfig } from '../agent/config.js';
import { StateDirError } from '../base/state-dir.js';

export interface AgentCommandOptions extends Record<string, unknown> {
  config?: string;
  printConfig?: boolean;
}

export async function loadConfig(o: AgentCommandOptions, requireAll: boolean): Promise<LoadedConfig> {
  return loadAgentConfig({ ...(o.config ? { file: o.config } : {}), env: process.env, flags: o, requireAll });
}

/**
 * The agent's state directory, which must exist: a status of a directory no agent ever used would
 * read "applied nothing yet" of a gateway that may run an agent elsewhere.
 */
export async function stateDirOf(o: AgentCommandOptions & { stateDir?: string }): Promise<string> {
  let dir: string;
  let from: string;
  if (typeof o.stateDir === 'string') {
    dir = resolve(o.stateDir);
    from = 'from --state-dir';
  } else {
    const loaded = await loadConfig(o, false);
    dir = resolve(loaded.config.stateDir);
    const source = loaded.sources['stateDir'];
    from =
      source === 'file'
        ? `stateDir of ${loaded.file}`
        : source === 'env'
          ? 'from ROLLGATE_STATE_DIR'
          : source === 'systemd'
            ? 'from STATE_DIRECTORY'
            : `the default; no configuration file sets stateDir`;
  }
  const st = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new StateDirError(`cannot read the state directory ${dir} (${from}): ${err.code ?? err.message}`);
  });
  if (!st)
    throw new StateDirError(
      `the state directory ${dir} (${from}) does not exist, so no agent has run with it. Give the agent's with ` +
        `--state-dir, or its configuration with --config (stateDir there)`,
    );
  if (!st.isDirectory()) throw new StateDirError(`${dir} (${from}) is not a directory`);
  try {
    await access(dir, constants.R_OK | constants.X_OK);
  } catch {
    throw new StateDirError(
      `this user may not read the state directory ${dir} (${from}; mode ${(st.mode & 0o777).toString(8)}, owner ` +
        `uid ${st.uid}), which holds what the gateway runs: run this as root (sudo), or as its owner`,
    );
  }
  return dir;
}
