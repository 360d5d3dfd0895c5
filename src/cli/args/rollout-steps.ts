// The operator's rollout commands (start, promote, pause, resume, abort, status) as the command line
// shows them: options, --help and exit codes. What each does is in ../rollout-steps.ts and
// ../rollout-status.ts, loaded when the command runs.

import { Option, type Command } from 'commander';
import type { Runner } from './run.js';
import { REPO_CA_FILE_HELP } from './options.js';

export const ROLLOUT_EXIT_HELP =
  '\n\nExit status: 0 a step was written, or nothing to do (the rollout is complete, or none runs); 2 the open ' +
  'wave waits (nothing written; why is printed); 3 the rollout is paused or aborted — now or already — and ' +
  'needs a person; 1 error (nothing written).';

function repoOptions(cmd: Command): Command {
  return cmd
    .option('--repo <url|path>', 'the fleet repo: an http(s) URL, or a local git repository (a checkout or bare)', '.')
    .option('--ref <branch>', 'the branch gateways follow', 'main')
    .option(
      '--auth-token-file <file>',
      'URL repos: file holding a token, sent as "Authorization: Bearer" (fetch and push)',
    )
    .option('--auth-basic-file <file>', 'URL repos: file holding "user:password"')
    .option('--repo-ca-file <file>', `${REPO_CA_FILE_HELP} (fetch and push)`)
    .option('--cache-dir <dir>', 'URL repos: keep the fetched objects here (default: a temporary directory)')
    .option(
      '--depth <n>',
      "URL repos: commits of history fetched at first, deepened as the rollout's commits need",
      '50',
    )
    .addOption(new Option('--output <format>', 'human or json').choices(['human', 'json']).default('human'));
}

function signingOptions(cmd: Command): Command {
  return cmd
    .option(
      '--signing-key <file>',
      'an armored OpenPGP private key (gpg --export-secret-keys --armor): the commit is signed with it, in ' +
        "process; gateways must trust its public key (trust.keys, or trust.promoterKeys: the promoter's narrower key)",
    )
    .option('--signing-passphrase-file <file>', 'a file holding the passphrase of --signing-key, when it has one');
}

function hubOptions(cmd: Command, what: string): Command {
  return cmd
    .option('--hub <url>', `the hub ${what} (also $ROLLGATE_HUB_URL)`)
    .option(
      '--hub-token-file <file>',
      'a file holding a reader or admin token of the hub (also $ROLLGATE_HUB_TOKEN_FILE)',
    )
    .option(
      '--ca-file <file>',
      "PEM certificates to trust for the hub's TLS certificate besides the system's (also $ROLLGATE_HUB_CA_FILE)",
    );
}

const load = () => import('../rollout-steps.js');

/** A command's run function; commander hands it the options of that command's own flags. */
type Run = (opts: never, io: Parameters<Parameters<Runner>[0]>[0]) => Promise<number>;

function action(run: Runner, command: () => Promise<Run>) {
  return (opts: unknown) =>
    run(
      async (io) => (await command())(opts as never, io),
      async (e, io) => (await load()).reportRolloutStepError(e, io),
    );
}

/** Adds start, promote, pause, resume, abort and status under `rollgate rollout`. */
export function addRolloutStepCommands(rollout: Command, run: Runner): void {
  signingOptions(
    repoOptions(
      rollout
        .command('start')
        .summary('start a staged rollout of a commit: its first wave (the canaries) opens')
        .description(
          "Writes rollgate-rollout.yaml at the branch's head as one signed commit: a new rollout of --target, " +
            "with --base as the fleet's last known good commit (default: the previous rollout's target when it " +
            'completed, its base when it was aborted; the first rollout on a branch needs --base), a new salt for ' +
            "its percent waves, and the first wave of each policy in the target's rollgate.yaml open. The fleet's " +
            'list of bad commits is carried over; a commit on it is never a target. A rollout that still rolls or ' +
            'is paused must be aborted or complete first. The commit changes rollgate-rollout.yaml alone and is ' +
            'pushed (never forced): when the branch moved meanwhile, it is decided again on the new head.' +
            ROLLOUT_EXIT_HELP,
        ),
    ),
  )
    .option('--target <rev>', 'the commit to roll out: a commit of the branch (id, or the branch with ~N)')
    .option(
      '--base <rev>',
      "the fleet's last known good commit: what a gateway not admitted runs, and all after an abort",
    )
    .option('--id <id>', "the rollout's name in reports and on the hub (default: rollout-<target's 12 digits>)")
    .option('--by <who>', 'who starts it (an e-mail); recorded in the step')
    .option('--why <text>', 'why; recorded in the step and the commit message')
    .addHelpText(
      'after',
      '\nExample:\n  rollgate rollout start --repo https://git.example.com/fleet.git ' +
        '--auth-token-file /etc/rollgate/git-token \\\n    --target main --signing-key release.key ' +
        '--by alice@example.com --why "release v2"',
    )
    .action(action(run, async () => (await load()).runRolloutStart as Run));

  hubOptions(
    signingOptions(
      repoOptions(
        rollout
          .command('promote')
          .summary("one step of the promoter: judge the open wave's gate on the hub's evidence, and write what it says")
          .description(
            "Reads rollgate-rollout.yaml at the branch's head and the policy of its target, asks the hub for its " +
              "evidence about the target (GET /api/v1/rollouts/{id}/evidence, on the hub's clock), judges each " +
              "policy's open wave by its gate, and writes one step as a signed commit: the next wave opens (a " +
              'percent wave with the exact hash threshold for the gateways the hub knows), the rollout pauses (a ' +
              'wave timed out with on_timeout: pause; the cause is recorded), aborts (too many failures, or a ' +
              'timeout with on_timeout: abort: the target becomes bad and every gateway returns to the base), or ' +
              'completes. A wave that waits writes nothing and says why. A hub that cannot be reached is an error: ' +
              'nothing advances without evidence. --force opens the next wave whatever the gate says (--why is ' +
              'recorded). Run it from a systemd timer or CI, or let `rollgate hub --promote-repo` run it.' +
              ROLLOUT_EXIT_HELP,
          ),
      ),
    ),
    'whose reports are the evidence',
  )
    .option('--by <who>', 'who promotes, recorded in each step (default: promoter@<host name>)')
    .option('--force', 'open the next wave whatever the gate says (with --why)')
    .option('--why <text>', 'with --force: why; recorded in the step')
    .addHelpText(
      'after',
      '\nExample (a systemd timer or a CI schedule):\n' +
        '  rollgate rollout promote --repo https://git.example.com/fleet.git ' +
        '--auth-token-file /etc/rollgate/git-token \\\n    --hub https://hub.example.com:9480 --hub-token-file ' +
        '/etc/rollgate/hub-reader-token --signing-key /etc/rollgate/promoter.key',
    )
    .action(action(run, async () => (await load()).runRolloutPromote as Run));

  for (const [name, summary, description] of [
    [
      'pause',
      'pause the rollout: no wave opens until it is resumed',
      'Writes a pause step as one signed commit. Gateways already admitted keep the target; the others stay on ' +
        'the base. Pausing a paused rollout writes nothing.',
    ],
    [
      'resume',
      'resume a paused rollout: the open waves time out from now',
      'Writes a resume step as one signed commit; the timeout of each open wave counts from now. An aborted ' +
        'rollout is never resumed.',
    ],
    [
      'abort',
      'abort the rollout: its target becomes bad, and every gateway returns to the base',
      "Writes an abort step as one signed commit: the target goes on the fleet's list of bad commits, so no " +
        'gateway runs it again and no rollout targets it again, and every gateway — admitted ones too — returns ' +
        'to the base with no server involved. A complete rollout can be aborted too (a fault found late).',
    ],
  ] as const)
    signingOptions(
      repoOptions(
        rollout
          .command(name)
          .summary(summary)
          .description(description + ROLLOUT_EXIT_HELP),
      ),
    )
      .option('--by <who>', 'who (an e-mail); recorded in the step')
      .option('--why <text>', 'why; recorded in the step and the commit message')
      .action(
        action(run, async () => {
          const m = await load();
          return (
            name === 'pause' ? m.runRolloutPause : name === 'resume' ? m.runRolloutResume : m.runRolloutAbort
          ) as Run;
        }),
      );

  hubOptions(
    repoOptions(
      rollout
        .command('status')
        .summary(
          "the rollout: its state, each policy's waves, the steps taken and why; with --hub, each open wave's gate",
        )
        .description(
          "Reads rollgate-rollout.yaml at the branch's head and the target's policy: the rollout's state (with who " +
            "paused or aborted it and why), each policy's waves (open or not, when, the published thresholds), the " +
            "fleet's bad commits and the steps taken. With --hub, each open wave's gate on the hub's evidence: " +
            'what it decides, every cause it waits on, when it times out, and each gateway of the wave.\n\nExit ' +
            'status: 0 rolling, complete, or no rollout; 3 paused or aborted; 1 error.',
        ),
    ),
    'whose reports judge the open waves (optional)',
  ).action(action(run, async () => (await import('../rollout-status.js')).runRolloutStatus as Run));
}
