// `rollgate rollout status`: the rollout at the branch's head — its state and who put it there, each
// policy's waves, the fleet's bad commits, the steps taken — and, with a hub, each open wave's gate
// on the hub's evidence: what it decides and every cause it waits on. Reads only; writes nothing.

import { readFleet } from '../manifest/index.js';
import type { RolloutState } from '../model/rollout.js';
import { readRolloutState } from '../promoter/index.js';
import { judgeTracks, tracksOf, type Track, type TrackGate } from '../rollout/index.js';
import { EXIT_OK, type Io } from './commands.js';
import { terminalText } from './fleet-command.js';
import { EXIT_ATTENTION, hubEvidence, openRepoOf, type HubFlags, type StepFlags } from './rollout-steps.js';

const short = (c: string) => c.slice(0, 12);
const iso = (ms: number) => new Date(ms).toISOString();

function wavesOf(t: Track) {
  return t.policy.waves.map((w, i) => ({
    number: i + 1,
    name: w.name,
    ...(w.select.kind === 'percent' ? { percent: w.select.percent } : { match: w.select.match }),
    open: i < t.opened.length,
    ...(t.opened[i] ?? {}),
  }));
}

/** Who put a paused or aborted rollout there, and why. */
function haltedBy(s: RolloutState) {
  if (s.state !== 'paused' && s.state !== 'aborted') return undefined;
  const action = s.state === 'paused' ? 'pause' : 'abort';
  return [...s.steps].reverse().find((x) => x.action === action);
}

function gateJson(g: TrackGate) {
  return {
    wave: g.wave + 1,
    name: g.track.policy.waves[g.wave]!.name,
    decision: g.gate.decision,
    message: g.gate.message,
    counts: g.gate.counts,
    causes: g.gate.causes,
    timeoutAt: iso(g.gate.timeoutAt),
    known: g.known.length,
    gateways: g.gate.gateways,
  };
}

export async function runRolloutStatus(o: StepFlags & HubFlags, io: Io): Promise<number> {
  const repo = openRepoOf(o);
  try {
    const head = await repo.head();
    const parsed = await readRolloutState(repo, head);
    if (!parsed) {
      if (o.output === 'json') io.out(JSON.stringify({ head, rollout: null }, null, 2) + '\n');
      else io.out(`No rollout on ${terminalText(o.ref)} at ${short(head)} (no rollgate-rollout.yaml)\n`);
      return EXIT_OK;
    }
    const s = parsed.state;
    await repo.descends(head, s.target);
    const { fleet, rollout } = await readFleet(repo.source(s.target));
    const tracks = tracksOf(s, rollout);
    const hub = o.hub ?? process.env['ROLLGATE_HUB_URL'];
    const gates = hub ? judgeTracks(s, fleet, rollout, await hubEvidence(o)(s.id, s.target)) : [];
    const exit = s.state === 'paused' || s.state === 'aborted' ? EXIT_ATTENTION : EXIT_OK;
    const halted = haltedBy(s);
    if (o.output === 'json') {
      io.out(
        JSON.stringify(
          {
            head,
            rollout: { id: s.id, state: s.state, base: s.base, target: s.target, salt: s.salt },
            ...(halted ? { halted } : {}),
            tracks: tracks.map((t) => {
              const g = gates.find((x) => x.track.name === t.name);
              return { track: t.name, waves: wavesOf(t), ...(g ? { gate: gateJson(g) } : {}) };
            }),
            bad: s.bad,
            steps: s.steps,
            exit,
          },
          null,
          2,
        ) + '\n',
      );
      return exit;
    }
    const t = terminalText;
    io.out(
      `Rollout ${t(s.id)} (${s.state}) on ${t(o.ref)} at ${short(head)}: base ${short(s.base)}, target ` +
        `${short(s.target)}\n`,
    );
    if (halted)
      io.out(
        `  ${halted.action === 'pause' ? 'paused' : 'aborted'} by ${t(halted.by)} at ${halted.at}: ${t(halted.why)}\n`,
      );
    if (tracks.length === 0) io.out("  the target's policy has no waves: every gateway takes the target at once\n");
    for (const tr of tracks) {
      const waves = wavesOf(tr).map((w) => {
        // The hash share the promoter published as exact for this wave, to the bucket's precision in `explain`.
        const threshold = w.threshold !== undefined ? `, threshold ${w.threshold.toFixed(6)}` : '';
        return `${w.number} ${w.name}${w.open ? ` (open since ${w.opened}${threshold})` : ''}`;
      });
      io.out(`  waves of ${tr.name}: ${t(waves.join(', '))}\n`);
      const g = gates.find((x) => x.track.name === tr.name);
      if (!g) continue;
      io.out(`    gate of wave ${g.wave + 1}: ${g.gate.decision}: ${t(g.gate.message)}\n`);
      for (const gw of g.gate.gateways)
        io.out(`      ${t(gw.id)}  ${gw.standing}${gw.reason ? `: ${t(gw.reason)}` : ''}\n`);
    }
    io.out(
      `  bad commits: ${s.bad.length ? s.bad.map((b) => `${short(b.commit)} (${t(b.reason)})`).join('; ') : 'none'}\n`,
    );
    io.out('  steps:\n');
    for (const st of s.steps.slice(-20)) {
      const where = `${st.track ? ` ${st.track}` : ''}${st.wave !== undefined ? ` wave ${st.wave + 1}` : ''}`;
      io.out(`    ${st.at}  ${st.action}${where} by ${t(st.by)}: ${t(st.why)}\n`);
    }
    return exit;
  } finally {
    repo.close();
  }
}
