// `rollgate rollout`: the fleet's staged rollout. Its arguments and help; the work is in
// ../rollout-command.ts, loaded when one runs.

import type { Command } from 'commander';
import { collect } from '../identity.js';
import { outputOption, REPO_CA_FILE_HELP } from './options.js';
import { addRolloutStepCommands } from './rollout-steps.js';
import type { Reporter, Runner } from './run.js';

const rolloutCommand = () => import('../rollout-command.js');
const rolloutErrors: Reporter = async (err, io) => (await rolloutCommand()).reportRolloutError(err, io);

export function addRolloutCommands(program: Command, run: Runner): void {
  const rollout = program
    .command('rollout')
    .summary("the fleet's staged rollout: which wave a gateway is in, what it may run now, and why")
    .description(
      'A staged rollout takes a commit to the fleet in waves (rollout: in rollgate.yaml), each behind a gate; ' +
        'its progress is rollgate-rollout.yaml at the branch head, written only by signed commits: `start`, ' +
        "`promote` (one step of the promoter, on the hub's evidence), `pause`, `resume`, `abort`. `status` shows " +
        'the rollout and its gates; `explain` works out, offline, what one gateway runs now (README "Staged ' +
        'rollouts").',
    );
  addRolloutStepCommands(rollout, run);
  rollout
    .command('explain')
    .summary('what a gateway runs now under the rollout, and why: its wave, admitted or not, the commit')
    .description(
      "Reads the branch's head of the fleet repo (a local git repository or its URL: no hub, no other network), " +
        'its rollgate-rollout.yaml and the rollout policy of the target commit, and works out what the gateway ' +
        '--id/--label runs now, as the gateway itself would: its wave (waves that name gateways by labels or ids ' +
        'first, then percent waves by a stable hash of the id with the rollout salt), whether the wave is open, and ' +
        'the commit it runs (the target when admitted, else the base; the base for everyone after an abort). ' +
        "Without rollgate-rollout.yaml, every gateway follows the branch head. It also says the gateway's " +
        'maintenance window (README "Maintenance windows") on this machine\'s clock: open, or when a change may ' +
        'start.\n\nExit status: 0 explained, 1 error ' +
        '(an invalid rollout file or policy, an unreadable repo).',
    )
    .option(
      '--repo <url|path>',
      'fleet repo: an http(s) URL, or a local git repository (a checkout or a bare repo)',
      '.',
    )
    .option('--ref <rev>', 'the branch gateways follow (or a tag or commit, with ~N or ^)', 'main')
    .option('--id <gateway-id>', 'the gateway id (waves and targets match on it; percent waves hash it)')
    .option('--label <key=value>', 'a gateway label (repeat for several)', collect, [])
    .option('--auth-token-file <file>', 'URL repos: file holding a token, sent as "Authorization: Bearer"')
    .option('--auth-basic-file <file>', 'URL repos: file holding "user:password"')
    .option('--repo-ca-file <file>', REPO_CA_FILE_HELP)
    .option('--cache-dir <dir>', 'URL repos: keep the fetched objects here (default: a temporary directory)')
    .option('--depth <n>', "URL repos: commits of history to fetch, enough to reach the rollout's target", '50')
    .addOption(outputOption())
    .addHelpText(
      'after',
      '\nExamples:\n  rollgate rollout explain --repo ./fleet --id gw-0042 --label ring=canary\n' +
        '  rollgate rollout explain --repo https://git.example.com/fleet.git --id gw-0042 --output json',
    )
    .action((opts) => run(async (io) => (await rolloutCommand()).runRolloutExplain(opts, io), rolloutErrors));
}
