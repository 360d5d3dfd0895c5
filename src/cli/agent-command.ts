// `rollgate agent`: the daemon, or with --print-config its effective configuration and where each
// value came from.

import { resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { Document, isCollection, isNode } from 'yaml';
import { Agent } from '../agent/agent.js';
import {
  DEFAULT_CONFIG_FILE,
  SETTINGS,
  type AgentConfig,
  type LoadedConfig,
  type Setting,
  type Source,
} from '../agent/config.js';
import { agentLogger } from '../agent/logger.js';
import { loadConfig, type AgentCommandOptions } from './agent-state-dir.js';
import { EXIT_ERROR, EXIT_OK, type Io } from './io.js';

function settingValue(config: AgentConfig, path: string[]): unknown {
  let cur: unknown = config;
  for (const seg of path) cur = (cur as Record<string, unknown> | undefined)?.[seg];
  return cur;
}

/** Where a setting's value came from, as the person would set it there. */
function origin(s: Setting, source: Source, file: string | undefined): string {
  switch (source) {
    case 'flag':
      return s.flag.split(' ')[0]!;
    case 'env':
      return s.env;
    case 'file':
      return `file ${file}`;
    case 'systemd':
      return 'STATE_DIRECTORY (systemd)';
    case 'default':
      return 'default';
  }
}

/**
 * The effective configuration as a configuration file would hold it, each value with where it came
 * from; one the agent needs and nobody set is shown empty, with where to set it. Nothing is needed
 * to print it: it is how a person finds out what to set.
 */
function printConfig(loaded: LoadedConfig, o: AgentCommandOptions, io: Io): void {
  // In the schema's order, which is the README's: the settings set, and those the agent needs.
  const doc = new Document({});
  const missing: string[] = [];
  for (const s of SETTINGS) {
    const source = loaded.sources[s.key];
    if (!source && !s.required) continue;
    doc.setIn(s.path, doc.createNode(source ? settingValue(loaded.config, s.path) : null));
    const node = doc.getIn(s.path, true);
    if (!isNode(node)) continue;
    if (isCollection(node)) node.flow = true;
    if (source) node.comment = ` ${origin(s, source, loaded.file)}`;
    else {
      const where = `${s.key} in the file, ${s.env} or ${s.flag.split(' ')[0]}`;
      node.comment = ` not set: the agent needs it (${where})`;
      missing.push(s.key);
    }
  }
  if (loaded.config.policy && !SETTINGS.some((s) => s.path[0] === 'policy' && loaded.sources[s.key])) {
    doc.set('policy', doc.createNode({}));
    const node = doc.get('policy', true);
    if (isCollection(node)) node.flow = true;
    if (isNode(node))
      node.comment = ` file ${loaded.file}: a policy with no rules, so whatever reaches the host is refused`;
  }
  const file = o.config ?? process.env['ROLLGATE_CONFIG'] ?? DEFAULT_CONFIG_FILE;
  const from = loaded.file ? `file ${loaded.file}` : `no file (${file} does not exist)`;
  io.out(
    `# The agent's effective configuration: ${from},\n` +
      '# then the environment, then flags; a flag wins. After each value, where it came from.\n',
  );
  if (missing.length)
    io.out(`# The agent does not start until ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} set.\n`);
  io.out(doc.toString({ nullStr: '' }));
}

export async function runAgent(o: AgentCommandOptions, io: Io): Promise<number> {
  const loaded = await loadConfig(o, !o.printConfig);
  if (o.printConfig) {
    printConfig(loaded, o, io);
    return EXIT_OK;
  }
  const config = { ...loaded.config, stateDir: resolve(loaded.config.stateDir) };
  const log = agentLogger(config.log.level, config.gateway.id);
  // The resident part is a small process that waits. V8 grows a heap's limit in steps of 8 MB, or
  // of 2 MB when it optimises for size: the step is what the resident part's old generation settles
  // above its live data, so the smaller one keeps it level (BENCHMARKS.md, "Flat over a long run").
  // Node takes the flag in no NODE_OPTIONS, so it is set here, where V8 reads it at each collection;
  // the worker is a process of its own and does not get it.
  setFlagsFromString('--optimize-for-size');
  const agent = new Agent({ config, log });
  let stopped!: () => void;
  const done = new Promise<void>((r) => (stopped = r));
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn(
        { signal: sig },
        `${sig} again: stopping now; the journal resumes the apply in flight at the next start`,
      );
      agent.abort();
      process.exit(EXIT_ERROR);
    }
    log.info({ signal: sig }, `${sig}: stopping`);
    agent.stop().then(stopped, (err: Error) => {
      log.error({ err: err.message }, `stopping failed: ${err.message}`);
      stopped();
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await agent.start();
  } catch (err) {
    // Said once, in the log (journald under systemd): the message says what to do.
    log.error({}, `the agent could not start: ${(err as Error).message}`);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    return EXIT_ERROR;
  }
  await done;
  return EXIT_OK;
}
