// `rollgate fleet rollout [id]`: the hub's rollout view (a hub started with --repo) in a terminal:
// without an id the rollouts of the fleet repo's recent history, with one its waves, why it waits (the
// first gateways of each failure reason, and how many more), and its signed steps. Reads only.

import { ROLLOUT_FAILURES_LISTED } from '../hub/defaults.js';
import type { RolloutView } from '../hub/rollout-view.js';
import { EXIT_OK, type Io } from './io.js';
import { hubClientOptions, hubRequest } from './hub-client.js';
import { terminalText as t, type FleetFlags } from './fleet-command.js';
import { shortCommit } from '../base/short-commit.js';

interface RolloutList {
  repo: { name: string; ref: string; head: string; readAt: string } | null;
  failed?: { at: string; message: string };
  rollouts: { id: string; state: string; base: string; target: string; current: boolean; steps: number }[];
}

export async function runFleetRollout(id: string | undefined, o: FleetFlags, io: Io): Promise<number> {
  const client = hubClientOptions(o);
  if (!id) {
    const l = (await hubRequest(client, 'GET', '/api/v1/rollouts')) as RolloutList;
    if (o.output === 'json') {
      io.out(JSON.stringify(l, null, 2) + '\n');
      return EXIT_OK;
    }
    if (l.repo)
      io.out(
        `fleet repo ${t(l.repo.name)} ${t(l.repo.ref)} at ${shortCommit(l.repo.head)}, read ${t(l.repo.readAt)}\n`,
      );
    if (l.failed) io.out(`reading the fleet repo failed at ${t(l.failed.at)}: ${t(l.failed.message)}\n`);
    if (!l.rollouts.length) io.out("no rollout in the fleet repo's recent history\n");
    for (const r of l.rollouts)
      io.out(
        `${t(r.id)}  ${t(r.state)}  ${t(shortCommit(r.base))} -> ${t(shortCommit(r.target))}  ${r.steps} step(s)` +
          `${r.current ? '  (at the head)' : ''}\n`,
      );
    return EXIT_OK;
  }
  const v = (await hubRequest(client, 'GET', `/api/v1/rollouts/${encodeURIComponent(id)}`)) as RolloutView;
  if (o.output === 'json') {
    io.out(JSON.stringify(v, null, 2) + '\n');
    return EXIT_OK;
  }
  const subject = (s: string | undefined) => (s ? ` ${t(s)}` : '');
  io.out(`rollout ${t(v.id)} (${t(v.state)})\n`);
  io.out(
    `  base   ${shortCommit(v.base)}${subject(v.baseSubject)}\n` +
      `  target ${shortCommit(v.target)}${subject(v.targetSubject)}\n`,
  );
  io.out(`  ${t(v.why)}\n`);
  for (const tr of v.tracks) {
    io.out(`waves (${t(tr.track)})\n`);
    for (const w of tr.waves) {
      io.out(
        `  ${w.number} ${t(w.name).padEnd(10)} ${w.open ? 'open' : 'shut'}  in wave ${w.members}, admitted ` +
          `${w.admitted}, healthy ${w.healthy}, soaking ${w.soaking}, applying ${w.applying}, not on target ` +
          `${w.pending}, not reporting ${w.silent}, failed ${w.failed}\n`,
      );
      for (const f of w.failures) {
        // The hub lists the first gateways of a reason; so does the terminal, whatever hub answered.
        const shown = f.gateways.slice(0, ROLLOUT_FAILURES_LISTED);
        const more = f.count - shown.length;
        io.out(`      ${f.count} x ${t(f.reason)}: ${t(shown.join(', '))}${more > 0 ? `, and ${more} more` : ''}\n`);
      }
    }
  }
  io.out('steps\n');
  for (const s of v.steps) {
    const commit = s.commit ? `  (${shortCommit(s.commit)}, ${t(s.signer ?? '')})` : '';
    io.out(`  ${t(s.at)}  ${t(s.action)} by ${t(s.by)}: ${t(s.why)}${commit}\n`);
  }
  return EXIT_OK;
}
