// `rollgate fleet`: the fleet as the hub sees it, read through its API. Its arguments and help; the
// work is in ../fleet-command.ts, loaded when one runs.

import type { Command } from 'commander';
import { collect } from '../identity.js';
import { CA_FILE_HELP, outputOption } from './options.js';
import type { Runner } from './run.js';

const fleetCommand = () => import('../fleet-command.js');

function fleetOptions(cmd: Command): Command {
  return cmd
    .option('--hub <url>', 'the hub (also $ROLLGATE_HUB_URL)')
    .option('--token-file <file>', 'a file holding a reader or admin token (also $ROLLGATE_HUB_TOKEN_FILE)')
    .option('--ca-file <file>', CA_FILE_HELP)
    .addOption(outputOption());
}

export function addFleetCommands(program: Command, run: Runner): void {
  const fleet = program
    .command('fleet')
    .summary('the fleet as the hub sees it: which gateways took a commit, which rolled back and why, which went silent')
    .description(
      'Reads a rollgate hub (`rollgate hub`) with a reader or admin token. --hub and --token-file, or ' +
        '$ROLLGATE_HUB_URL and $ROLLGATE_HUB_TOKEN_FILE, say which hub and which token; --ca-file (or ' +
        "$ROLLGATE_HUB_CA_FILE) trusts a hub whose certificate a private CA signed, as the agent's report.caFile.",
    )
    .addHelpText(
      'after',
      '\nExamples:\n  export ROLLGATE_HUB_URL=https://hub.example.com:9480\n' +
        '  export ROLLGATE_HUB_TOKEN_FILE=~/.rollgate-hub-token\n' +
        '  rollgate fleet status\n  rollgate fleet commit 3f2a91c --output json\n' +
        '  rollgate fleet gateways --label site=berlin --condition Ready=False\n' +
        '  rollgate fleet rollout edge-v2',
    );
  fleetOptions(
    fleet.command('status').summary('gateways by condition, recent commits, failures, silent gateways'),
  ).action((opts) => run(async (io) => (await fleetCommand()).runFleetStatus(opts, io)));
  fleetOptions(
    fleet
      .command('commit <sha>')
      .summary('one commit across the fleet: applied, healthy, rolled back (and why), rejected, pending, silent'),
  ).action((sha: string, opts) => run(async (io) => (await fleetCommand()).runFleetCommit(sha, opts, io)));
  fleetOptions(
    fleet
      .command('rollout [id]')
      .summary('the rollouts (a hub started with --repo); with an id its waves, why it waits, its signed steps'),
  ).action((id: string | undefined, opts) =>
    run(async (io) => (await import('../fleet-rollout.js')).runFleetRollout(id, opts, io)),
  );
  fleetOptions(fleet.command('gateways').summary('the gateways, with filters'))
    .option('--label <key=value>', 'only gateways with this label (repeat for several)', collect, [])
    .option('--condition <cond>', 'Ready, Healthy or Stalled, with =True, =False or =Unknown')
    .option('--commit <sha>', 'only gateways that run this commit')
    .option('--stale', 'only gateways that stopped reporting')
    .action((opts) => run(async (io) => (await fleetCommand()).runFleetGateways(opts, io)));
}
