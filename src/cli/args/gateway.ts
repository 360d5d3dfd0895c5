// `rollgate apply` and `rollgate observe`: one reconcile of this gateway, and a look at it. Their
// arguments and help; the work is in ../apply-command.ts, loaded when one runs.

import type { Command } from 'commander';
import { collect } from '../identity.js';
import { applyOptions, gatewayOptions, outputOption, repoOptions, variableOptions } from './options.js';
import type { Runner } from './run.js';

const applyCommand = () => import('../apply-command.js');

export function addGatewayCommands(program: Command, run: Runner): void {
  applyOptions(
    gatewayOptions(
      variableOptions(
        repoOptions(
          program
            .command('apply')
            .summary('reconcile this gateway once, now: pull, converge, finalize (rolls back on failure)')
            .description(
              'One reconcile of this gateway: finish or put back an apply that a crash interrupted, observe the ' +
                'gateway, plan the change to the desired state of --ref (or the working tree), pull every image ' +
                'and download and verify every artifact first, then converge in order group by group: containers ' +
                'through the Docker Engine, device components through their update interfaces. Components are ' +
                'committed only after every group installed and verified. A failure before that puts everything ' +
                'back as it was. The agent does the same on its schedule.\n\nExit status: 0 applied or nothing to ' +
                'do, 1 error (nothing was changed), 3 failed and rolled back, 4 failed and could not be put back ' +
                'completely.',
            ),
        ),
      ),
    ),
  )
    .option('--id <gateway-id>', 'the gateway identity that targets match on')
    .option('--label <key=value>', 'a gateway label (repeat for several)', collect, [])
    .option('--quiet', 'no progress lines on stderr')
    .addOption(outputOption())
    .addHelpText(
      'after',
      '\nExamples:\n  rollgate apply --repo ./fleet --ref main --id gw-0001\n  rollgate apply --repo ' +
        'https://git.example.com/fleet.git --id gw-0001 --registry-auth-file /etc/rollgate/registries.yaml',
    )
    .action((opts) => run(async (io) => (await applyCommand()).runApply(opts, io)));

  gatewayOptions(
    program
      .command('observe')
      .summary('show what rollgate manages on this gateway, or save it for offline diffs')
      .description(
        'Reads the live gateway (containers, networks and volumes that carry rollgate labels and this state ' +
          "directory's owner id, the images present, " +
          'and the device components rollgate has records of in --state-dir, each asked for its Identity, ' +
          'Provides and Inventory through its interface) without changing anything. --save writes the observation ' +
          'to a file that "rollgate diff --against file:<path>" reads anywhere.',
      ),
  )
    .option('--save <file>', 'write the observation (JSON) to this file')
    .addOption(outputOption())
    .action((opts) => run(async (io) => (await applyCommand()).runObserve(opts, io)));
}
