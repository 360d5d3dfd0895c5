// `rollgate diff`, `validate` and `artifacts lock`: the commands that read a fleet repo (a dry run,
// its CI's check, the lock of its artifacts). Their arguments and help; the work is in
// ../commands.ts and ../artifacts-command.ts, loaded when one runs.

import type { Command } from 'commander';
import { DEFAULT_INTERFACE_DIRS } from '../../apply/interface/defaults.js';
import { DEFAULT_STATE_DIR } from '../../base/state-dir.js';
import { collect } from '../identity.js';
import { outputOption, repoOptions, variableOptions } from './options.js';
import type { Runner } from './run.js';

const commands = () => import('../commands.js');
const artifactsCommand = () => import('../artifacts-command.js');

export function addFleetRepoCommands(program: Command, run: Runner): void {
  variableOptions(
    repoOptions(
      program
        .command('diff')
        .summary('show what a commit or working tree would change on a gateway (dry run)')
        .description(
          'Dry run: load the fleet repo at --ref (or the working tree), work out the desired state of the gateway ' +
            '--id/--label, and print the plan that would take the gateway from --against to it. Nothing is ' +
            'changed. The stages are listed in the order they would run, with the order and why: the declared ' +
            'order, or reversed when the declared one would pass through a state the constraints refuse (a ' +
            'downgrade, a revert). Warnings (a Compose variable that is not set, a key that means nothing on a ' +
            'gateway) go to stderr.\n\nExit status: 0 no changes, 2 changes, 1 error.',
        ),
    ),
  )
    .option('--id <gateway-id>', 'the gateway identity that targets match on')
    .option('--label <key=value>', 'a gateway label (repeat for several)', collect, [])
    .option(
      '--against <what>',
      'compare with: fresh (an empty gateway), live (this gateway, observed now), commit:<rev> (the gateway as ' +
        'that commit left it), file:<path> (a saved observation, see "rollgate observe --save")',
      'fresh',
    )
    .option(
      '--docker-host <socket>',
      "with --against live: the Docker Engine's unix socket (default: $DOCKER_HOST, else unix:///var/run/docker.sock)",
    )
    .option(
      '--state-dir <dir>',
      "with --against live: rollgate's state directory, where the versions it committed through Update Modules " +
        'are recorded',
      DEFAULT_STATE_DIR,
    )
    .option(
      '--interfaces-dir <dir>',
      `with --against live: where update interfaces are looked up (repeat for several; ` +
        `default: ${DEFAULT_INTERFACE_DIRS.join(', ')})`,
      collect,
    )
    .addOption(outputOption())
    .addHelpText(
      'after',
      '\nExamples:\n  rollgate diff --repo ./fleet --id gw-0001                       # working tree vs a fresh ' +
        'gateway\n  rollgate diff --repo ./fleet --id gw-0001 --against live        # working tree vs this ' +
        'gateway, now\n  rollgate diff --repo ./fleet --ref main --against commit:main~1 --id gw-0001\n  rollgate ' +
        'diff --repo https://git.example.com/fleet.git --auth-token-file /etc/rollgate/token --id gw-0001 ' +
        '--output json',
    )
    .action((opts) => run(async (io) => (await commands()).runDiff(opts, io)));

  variableOptions(
    repoOptions(
      program
        .command('validate')
        .summary("check that every target of a fleet repo loads and plans (for the fleet repo's CI)")
        .description(
          'Loads every target of the fleet repo with an identity it matches, reports every problem with ' +
            'file:line:column, and plans each target against a fresh gateway. Compose files are read as docker ' +
            "compose reads them (anchors and merge keys, ${VAR} from the .env beside them, the target's variables " +
            'and --var/--var-file); warnings go to stderr. With --trusted-keys the commit must be signed as the ' +
            "agent requires, and with --policy-file it is checked against a gateway's policy, so the fleet repo's " +
            'CI sees what gateways will accept.\n\nExit status: 0 valid, 1 problems.',
        ),
    ),
  )
    .option(
      '--state-dir <dir>',
      "the gateway's state directory, where the fleet repo's files are written: a health command there is " +
        "refused, as the agent refuses it (default: stateDir of the agent's configuration given as --policy-file, " +
        `else ${DEFAULT_STATE_DIR})`,
    )
    .addOption(outputOption())
    .action((opts) => run(async (io) => (await commands()).runValidate(opts, io)));
}

export function addArtifactsCommand(program: Command, run: Runner): void {
  const artifacts = program.command('artifacts').summary("artifacts of the fleet repo's manifests");
  artifacts
    .command('lock')
    .summary('fetch artifacts named by artifact_name from the artifact store and record their sha256')
    .description(
      `For manifests that name artifacts by artifact_name alone (as Mender publishes them) when the repo's ` +
        `artifact directories do not hold them: fetches each one from artifact_store of rollgate.yaml ` +
        `({artifact_name} replaced), checks that it is the artifact of that name, and writes its sha256 and size ` +
        `to rollgate-artifacts.lock.yaml in --repo. Gateways download from the store and refuse bytes that do not ` +
        `match. Entries already locked are kept unless --refresh; entries no manifest names any more are dropped. ` +
        `Commit the file.\n\nExit status: 0 locked, 1 error (the lock file is not changed).`,
    )
    .option('--repo <path>', 'the fleet repo working tree (the lock file is written there)', '.')
    .option('--auth-token-file <file>', 'a file holding a token, sent as "Authorization: Bearer" to the store')
    .option('--max-size <size>', 'refuse artifacts larger than this', '2G')
    .option('--refresh', 'fetch and check every artifact again, even those locked already')
    .action((opts) => run(async (io) => (await artifactsCommand()).runArtifactsLock(opts, io)));
}
