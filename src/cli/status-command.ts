// `rollgate status` and `rollgate history`: what the agent did, from the state directory (they
// work while the agent is stopped), and what it does now when it runs.

import type { LiveStatus } from '../agent/agent.js';
import { NoAgentError, callAgent } from '../agent/control.js';
import { readAgentState, type AgentState } from '../agent/state.js';
import { Journal, type JournalData } from '../apply/journal.js';
import { statePath } from '../base/state-dir.js';
import { reconciling, verdictFacts, type Condition } from '../model/index.js';
import { stateDirOf, type AgentCommandOptions } from './agent-state-dir.js';
import { c12, when } from './format.js';
import { EXIT_OK, type Io } from './io.js';

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
