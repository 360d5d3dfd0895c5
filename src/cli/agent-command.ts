// `rollgate agent` (the daemon), `rollgate sync` (reconcile now), `rollgate status` and
// `rollgate history` (what the agent did, from the state directory; live details when it runs).

import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { Document, isCollection, isNode } from 'yaml';
import { Agent, type LiveStatus } from '../agent/agent.js';
import type { Verdict } from '../lifecycle/index.js';
import {
  DEFAULT_CONFIG_FILE,
  SETTINGS,
  loadAgentConfig,
  type AgentConfig,
  type LoadedConfig,
  type Setting,
  type Source,
} from '../agent/config.js';
import { NoAgentError, callAgent } from '../agent/control.js';
import { forgetOffline } from '../agent/forget.js';
import { agentLogger } from '../agent/logger.js';
import { readAgentState, type AgentState } from '../agent/state.js';
import { StateDirError, statePath } from '../base/state-dir.js';
import type { Condition, SyncExit } from '../model/index.js';
import { reconciling, verdictFacts } from '../model/index.js';
import { Journal, type JournalData } from '../apply/index.js';
import { collect } from './identity.js';
import { EXIT_ERROR, EXIT_OK, type Io } from './commands.js';
import { EXIT_ROLLBACK_INCOMPLETE, EXIT_ROLLED_BACK } from './apply-command.js';

/** One option per setting of the config schema, with its environment variable and default in the help. */
export function addSettingOptions(cmd: Command): Command {
  for (const s of SETTINGS) {
    const dflt =
      s.default !== undefined && !(typeof s.default === 'object' && Object.keys(s.default as object).length === 0)
        ? ` (default: ${JSON.stringify(s.default)})`
        : '';
    const help = `${s.description} [${s.key} in the config file; env ${s.env}]${dflt}`;
    if (s.kind === 'boolean') {
      const long = s.flag.split(' ')[0]!;
      cmd.addOption(new Option(long, help));
      cmd.addOption(new Option(`--no-${long.slice(2)}`, `turn ${s.key} off`));
    } else if (s.kind === 'list' || s.kind === 'map') cmd.addOption(new Option(s.flag, help).argParser(collect));
    else cmd.addOption(new Option(s.flag, help));
  }
  return cmd;
}

export interface AgentCommandOptions extends Record<string, unknown> {
  config?: string;
  printConfig?: boolean;
}

async function loadConfig(o: AgentCommandOptions, requireAll: boolean): Promise<LoadedConfig> {
  return loadAgentConfig({ ...(o.config ? { file: o.config } : {}), env: process.env, flags: o, requireAll });
}

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
    default:
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

/**
 * The agent's state directory, which must exist: a status of a directory no agent ever used would
 * read "applied nothing yet" of a gateway that may run an agent elsewhere.
 */
async function stateDirOf(o: AgentCommandOptions & { stateDir?: string }): Promise<string> {
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

const c12 = (c: string | undefined) => (c ? c.slice(0, 12) : 'none');
/** ` text` when the value is there, else nothing. */
const when = <T>(v: T | undefined, text: (v: T) => string) => (v === undefined || v === '' ? '' : ` ${text(v)}`);

/** How `rollgate sync` exits after each kind of verdict (the verdict table says which kind). */
export const SYNC_EXIT_CODE: Readonly<Record<SyncExit, number>> = {
  ok: EXIT_OK,
  error: EXIT_ERROR,
  'rolled-back': EXIT_ROLLED_BACK,
  'rollback-incomplete': EXIT_ROLLBACK_INCOMPLETE,
};

/**
 * Prints a verdict as `rollgate sync` does and returns its exit code. A reason this rollgate does
 * not know (an agent newer than the CLI) is printed as it is and is no success.
 */
export function printVerdict(r: Verdict, output: 'human' | 'json', io: Io): number {
  const row = verdictFacts(r.reason);
  if (output === 'json') io.out(JSON.stringify(r, null, 2) + '\n');
  else {
    io.out(
      (row?.sync ?? `${String(r.reason)} (a verdict this rollgate does not know)`) +
        (r.commit ? `: commit ${c12(r.commit)}` : '') +
        (r.to ? `; the gateway runs the last good commit ${c12(r.to)}` : '') +
        '\n',
    );
    if (r.detail && r.reason !== 'unchanged') io.out(`  ${r.detail}\n`);
    if (r.steps?.length) io.out(`  steps: ${r.steps.join(', ')}\n`);
  }
  return row ? SYNC_EXIT_CODE[row.exit] : EXIT_ERROR;
}

export async function runSync(
  o: AgentCommandOptions & { stateDir?: string; output: 'human' | 'json'; timeout: string },
  io: Io,
): Promise<number> {
  const stateDir = await stateDirOf(o);
  const timeoutMs = Number(o.timeout) * 1000;
  const r = (await callAgent(
    stateDir,
    'POST',
    '/sync',
    Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 3_600_000,
  )) as Verdict;
  return printVerdict(r, o.output, io);
}

/** Who runs this command, for the history: the user, and who they were before sudo. */
function operator(): string {
  const me = (() => {
    try {
      return userInfo().username;
    } catch {
      return `uid ${process.getuid?.() ?? '?'}`;
    }
  })();
  const sudo = process.env['SUDO_USER'];
  return sudo && sudo !== me ? `${me} (sudo from ${sudo})` : me;
}

export async function runForget(
  commit: string,
  o: AgentCommandOptions & { stateDir?: string; output: 'human' | 'json'; reason: string },
  io: Io,
): Promise<number> {
  const stateDir = await stateDirOf(o);
  const req = { commit, reason: o.reason, by: operator() };
  let r: Verdict;
  let via: string;
  try {
    r = (await callAgent(stateDir, 'POST', '/forget', 60_000, req)) as Verdict;
    via = 'the running agent';
  } catch (err) {
    if (!(err instanceof NoAgentError)) throw err;
    r = await forgetOffline(stateDir, req);
    via = 'the state file (no agent is running)';
  }
  if (o.output === 'json') io.out(JSON.stringify(r, null, 2) + '\n');
  else
    io.out(
      `cleared the bad record of commit ${c12(r.commit)} through ${via}; recorded in the history:\n  ${r.detail}\n` +
        'If the branch still points at it, the next poll applies it again (rollgate sync: now).\n',
    );
  return EXIT_OK;
}

export interface StatusReport {
  stateDir: string;
  agent: LiveStatus | null;
  applied: AgentState['applied'] | null;
  lastGood: AgentState['lastGood'] | null;
  lastGoodUnhealthy: AgentState['lastGoodUnhealthy'] | null;
  inProgress: (NonNullable<AgentState['inProgress']> & { phase?: JournalData['phase']; step?: string }) | null;
  lastAttempted: AgentState['lastAttempted'] | null;
  bad: AgentState['bad'];
  lastError: AgentState['lastError'] | null;
  /** The staged rollout at the branch's head and this gateway's place in it. */
  rollout: AgentState['rollout'] | null;
  /** The commit a gate says "not yet" to, and why. */
  deferred: AgentState['deferred'] | null;
  /** Ready, Healthy, Stalled from the state; Reconciling from the running agent. */
  conditions: Condition[];
}

async function live(stateDir: string): Promise<LiveStatus | null> {
  try {
    return (await callAgent(stateDir, 'GET', '/live', 5_000)) as LiveStatus;
  } catch (err) {
    if (err instanceof NoAgentError) return null;
    throw err;
  }
}

export async function statusReport(stateDir: string): Promise<StatusReport> {
  const st = await readAgentState(stateDir);
  const journal = await new Journal(statePath(stateDir, 'journal')).load();
  const started = journal ? journal.order.filter((id) => journal.steps[id]?.status === 'started') : [];
  const inProgress =
    st.inProgress || journal
      ? {
          ...(st.inProgress ?? { commit: journal?.plan.desired.source.commit ?? 'unknown', since: '', attempts: 1 }),
          ...(journal ? { phase: journal.phase } : {}),
          ...(started.length ? { step: started[started.length - 1]! } : {}),
        }
      : null;
  const agent = await live(stateDir);
  return {
    stateDir,
    agent,
    applied: st.applied ?? null,
    lastGood: st.lastGood ?? null,
    lastGoodUnhealthy: st.lastGoodUnhealthy ?? null,
    inProgress,
    lastAttempted: st.lastAttempted ?? null,
    bad: st.bad,
    lastError: st.lastError ?? null,
    rollout: st.rollout ?? null,
    deferred: st.deferred ?? null,
    conditions: [...st.conditions, ...(agent ? [reconciling(agent.phase, agent.since, agent.commit)] : [])],
  };
}

export async function runStatus(
  o: AgentCommandOptions & { stateDir?: string; output: 'human' | 'json' },
  io: Io,
): Promise<number> {
  const r = await statusReport(await stateDirOf(o));
  if (o.output === 'json') {
    io.out(JSON.stringify(r, null, 2) + '\n');
    return EXIT_OK;
  }
  const a = r.agent;
  const row = (label: string, value: string) => io.out(`${label.padEnd(17)}${value}\n`);
  row('state directory', r.stateDir);
  row(
    'agent',
    a
      ? `running, pid ${a.pid}, ${a.phase}${when(a.commit, c12)} since ${a.since}` +
          (a.nextPollAt ? `; next poll ${a.nextPollAt}` : '')
      : 'not running',
  );
  if (a?.lastPoll)
    row(
      'last poll',
      `${a.lastPoll.at}: ` + (a.lastPoll.error ? `failed: ${a.lastPoll.error}` : `branch at ${c12(a.lastPoll.commit)}`),
    );
  const rep = a?.report;
  if (rep)
    row(
      'fleet hub',
      `${rep.url}: ` +
        (rep.outage ? `out of reach since ${rep.outage.since} (${rep.outage.error})` : 'reporting') +
        `; ${rep.waiting} event(s) waiting` +
        (rep.lost ? `, ${rep.lost} lost` : '') +
        (rep.lastDelivered ? `; last delivered ${rep.lastDelivered}` : ''),
    );
  row('applied', r.applied ? `${c12(r.applied.commit)}  (${r.applied.at})` : 'nothing yet');
  row('last good', r.lastGood ? `${c12(r.lastGood.commit)}  (${r.lastGood.at})` : 'none yet');
  if (r.lastGoodUnhealthy)
    io.out(`!! last good is UNHEALTHY since ${r.lastGoodUnhealthy.at}: ${r.lastGoodUnhealthy.reason}\n`);
  const ro = r.rollout;
  if (ro)
    row(
      'rollout',
      `${ro.id} (${ro.state}), target ${c12(ro.target)}, base ${c12(ro.base)}: ` +
        (ro.wave
          ? `wave ${ro.wave.number} of ${ro.wave.of} "${ro.wave.name}" (${ro.wave.open ? 'open' : 'not open'}); `
          : '') +
        `runs the ${ro.runs}${when(ro.code, (x) => `(${x})`)}`,
    );
  const d = r.deferred;
  if (d)
    row(
      'deferred',
      `${c12(d.commit)} at the ${d.gate} gate since ${d.since}${when(d.until, (x) => `, until ${x}`)}: ${d.detail}`,
    );
  if (r.conditions.length) {
    const width = Math.max(...r.conditions.map((c) => c.type.length));
    io.out('conditions\n');
    for (const c of r.conditions)
      io.out(`  ${c.type.padEnd(width)}  ${c.status.padEnd(7)} ${c.reason}${when(c.commit, c12)} since ${c.since}\n`);
  }
  const p = r.inProgress;
  if (p)
    row(
      'in progress',
      c12(p.commit) +
        when(p.phase, (x) => `, journal phase ${x}`) +
        when(p.step, (x) => `, step ${x}`) +
        when(p.since, (x) => ` (since ${x})`),
    );
  if (r.lastError)
    row('last error', `${r.lastError.at}${when(r.lastError.commit, (c) => `(${c12(c)})`)}: ${r.lastError.message}`);
  if (r.bad.length === 0) io.out('bad commits      none\n');
  else {
    io.out(
      `bad commits      ${r.bad.length} (never applied again automatically; the agent waits for the branch to move)\n`,
    );
    for (const b of [...r.bad].reverse())
      io.out(`  ✗ ${c12(b.commit)}  ${b.kind}  ${b.at}\n      ${b.reason.split('\n').join('\n      ')}\n`);
  }
  return EXIT_OK;
}

export async function runHistory(
  o: AgentCommandOptions & { stateDir?: string; output: 'human' | 'json'; limit: string },
  io: Io,
): Promise<number> {
  const st = await readAgentState(await stateDirOf(o));
  const limit = Math.max(1, Number(o.limit) || 20);
  const entries = st.history.slice(-limit).reverse();
  if (o.output === 'json') {
    io.out(JSON.stringify(entries, null, 2) + '\n');
    return EXIT_OK;
  }
  if (entries.length === 0) io.out('no history yet\n');
  for (const e of entries) {
    const steps = e.steps?.length ? `  (${e.steps.length} step${e.steps.length === 1 ? '' : 's'})` : '';
    const commits = (e.commit ? `  ${c12(e.commit)}` : '') + (e.to ? ` → ${c12(e.to)}` : '');
    io.out(`${verdictFacts(e.event)?.mark ?? '?'} ${e.at}  ${e.event}${commits}${steps}\n`);
    if (e.detail) io.out(`    ${e.detail.split('\n').join('\n    ')}\n`);
  }
  return EXIT_OK;
}
