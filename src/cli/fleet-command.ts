// `rollgate fleet status` and `rollgate fleet commit <sha>`: the hub's view of the fleet, for a
// terminal (human) or a script (--output json).

import type { CommitSummary, FleetSummary, GatewaySummary, Page } from '../hub/index.js';
import { EXIT_OK, type Io } from './io.js';
import { hubClientOptions, hubRequest } from './hub-client.js';
import { terminalText } from './terminal-text.js';

export { terminalText };

export interface FleetFlags {
  hub?: string;
  tokenFile?: string;
  caFile?: string;
  output: 'human' | 'json';
}

const c12 = (c: string | undefined) => (c ? terminalText(c.slice(0, 12)) : '-');
const t = terminalText;

function commitLine(c: CommitSummary): string {
  return (
    `${c12(c.commit)}  applied ${c.applied} (healthy ${c.healthy}), rolled back ${c.rolledBack}, ` +
    `rejected ${c.rejected}, pending ${c.pending}, silent ${c.silent}` +
    (c.retrying ? `, retrying ${c.retrying}` : '') +
    (c.movedOn ? `, moved on ${c.movedOn}` : '')
  );
}

export async function runFleetStatus(o: FleetFlags, io: Io): Promise<number> {
  const client = hubClientOptions(o);
  const s = (await hubRequest(client, 'GET', '/api/v1/fleet')) as FleetSummary;
  if (o.output === 'json') {
    io.out(JSON.stringify(s, null, 2) + '\n');
    return EXIT_OK;
  }
  const reporting = s.gateways - s.silent - s.neverSeen;
  io.out(`gateways   ${s.gateways}: ${reporting} reporting, ${s.silent} silent, ${s.neverSeen} never reported\n`);
  for (const t of ['Ready', 'Healthy', 'Stalled'] as const) {
    const b = s.byCondition[t];
    io.out(`${t.padEnd(11)}True ${b.True}, False ${b.False}, Unknown ${b.Unknown}\n`);
  }
  if (s.commits.length) {
    io.out('\nrecent commits\n');
    for (const c of s.commits) io.out(`  ${commitLine(c)}\n`);
  }
  if (s.failures.length) {
    io.out('\nfailures\n');
    for (const f of s.failures)
      io.out(
        `  ${t(f.at)}  ${t(f.gateway)}  ${t(f.verdict ?? f.kind)} ${c12(f.commit)}` +
          `${f.reason ? ` (${t(f.reason)})` : ''}\n`,
      );
  }
  if (s.silentGateways.length) {
    io.out('\nstopped reporting\n');
    for (const g of s.silentGateways) io.out(`  ${t(g.id)}  last report ${t(g.lastSeen ?? '-')}\n`);
  }
  return EXIT_OK;
}

export async function runFleetCommit(sha: string, o: FleetFlags, io: Io): Promise<number> {
  const client = hubClientOptions(o);
  const c = (await hubRequest(client, 'GET', `/api/v1/commits/${encodeURIComponent(sha)}`)) as CommitSummary;
  if (o.output === 'json') {
    io.out(JSON.stringify(c, null, 2) + '\n');
    return EXIT_OK;
  }
  io.out(`commit     ${t(c.commit)} (first seen ${t(c.firstSeen)}), ${c.gateways} gateways\n`);
  io.out(`           ${commitLine(c).slice(14)}\n`);
  if (c.reasons.length) {
    io.out('why\n');
    for (const r of c.reasons)
      io.out(
        `  ${String(r.count).padStart(5)}  ${t(r.outcome)} ${t(r.reason)}${r.example ? `: ${t(r.example)}` : ''}\n`,
      );
  }
  if (c.failures.length) {
    io.out('gateways\n');
    for (const f of c.failures)
      io.out(`  ${t(f.gateway)}  ${t(f.verdict)}${f.reason ? ` (${t(f.reason)})` : ''}  ${t(f.at)}\n`);
  }
  return EXIT_OK;
}

export async function runFleetGateways(
  o: FleetFlags & { label?: string[]; condition?: string; stale?: boolean; commit?: string },
  io: Io,
): Promise<number> {
  const client = hubClientOptions(o);
  const q = new URLSearchParams({ limit: '1000' });
  for (const l of o.label ?? []) q.append('label', l);
  if (o.condition) q.set('condition', o.condition);
  if (o.commit) q.set('commit', o.commit);
  if (o.stale !== undefined) q.set('stale', String(o.stale));
  const page = (await hubRequest(client, 'GET', `/api/v1/gateways?${q}`)) as Page<GatewaySummary>;
  if (o.output === 'json') {
    io.out(JSON.stringify(page.items, null, 2) + '\n');
    return EXIT_OK;
  }
  for (const g of page.items) {
    const cond = (['Ready', 'Healthy', 'Stalled'] as const).map((t) => `${t}=${g.conditions[t] ?? '-'}`).join(' ');
    const state = g.silent ? 'silent' : g.lastSeen ? 'reporting' : 'never seen';
    io.out(`${t(g.id)}  ${state}  ${c12(g.applied)}  ${t(cond)}\n`);
  }
  return EXIT_OK;
}
