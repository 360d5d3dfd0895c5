// `rollgate agent` (the daemon), and the commands that ask it or read its state directory: sync,
// status, history, forget. Their arguments and help — the agent's options made from its settings'
// schema — and the work in ../agent-command.ts, ../sync-command.ts and ../status-command.ts,
// loaded when one runs.

import { Option, type Command } from 'commander';
import { DEFAULT_CONFIG_FILE, SETTINGS } from '../../agent/settings.js';
import { DEFAULT_STATE_DIR } from '../../base/state-dir.js';
import { collect } from '../identity.js';
import { outputOption } from './options.js';
import type { Runner } from './run.js';

const agentCommand = () => import('../agent-command.js');
const syncCommand = () => import('../sync-command.js');
const statusCommand = () => import('../status-command.js');

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

export function addAgentCommand(program: Command, run: Runner): void {
  addSettingOptions(
    program
      .command('agent')
      .summary(
        'run the agent: poll the fleet repo, apply new commits behind the health gate, roll back to the last good ' +
          'commit',
      )
      .description(
        `The daemon that runs on a gateway (under systemd: systemd/rollgate.service). It polls the fleet repo's ` +
          `branch on a schedule (one small request when nothing changed; a local repo path is watched too), ` +
          `applies a new commit (pull and download first, then containers and device components in order), checks ` +
          `health for a window, and commits. When the apply or its health fails, the commit is recorded as bad ` +
          `with the reason, everything is rolled back to the last good commit, and that commit's health is ` +
          `checked. A bad commit is never applied again automatically: the agent waits for the branch to move. An ` +
          `apply interrupted by a crash, a kill or a power cut is finished or put back at the next start, before ` +
          `anything new.\n\nSettings come from the configuration file (${DEFAULT_CONFIG_FILE}, or --config / ` +
          `ROLLGATE_CONFIG), then the environment, then these flags; a flag wins. "rollgate agent --print-config" ` +
          `shows the result and where each value came from. JSON logs go to stdout; Prometheus metrics to the ` +
          `loopback port of --metrics-listen; "rollgate sync" asks the running agent to reconcile now, "rollgate ` +
          `status" and "rollgate history" show what it did.`,
      )
      .option(
        '--config <file>',
        `the configuration file (env ROLLGATE_CONFIG; default: ${DEFAULT_CONFIG_FILE}, optional when it does not ` +
          'exist)',
      )
      .option('--print-config', 'print the effective configuration and where each value came from, then exit'),
  )
    .addHelpText(
      'after',
      `\nExamples:\n  rollgate agent                                     # everything ` +
        `from ${DEFAULT_CONFIG_FILE}\n  rollgate agent --repo https://git.example.com/fleet.git --id gw-0001 ` +
        `--label site=berlin\n  rollgate agent --repo /srv/fleet --id gw-0001 --interval 5m --jitter 1m ` +
        `--state-dir /tmp/rg\n  ROLLGATE_CRON='*/10 * * * *' rollgate agent --print-config`,
    )
    .action((opts) => run(async (io) => (await agentCommand()).runAgent(opts, io)));
}

export function addAgentStateCommands(program: Command, run: Runner): void {
  const stateDirOption = (cmd: Command) =>
    cmd
      .option(
        '--state-dir <dir>',
        `the agent's state directory (default: stateDir of the configuration file, else ${DEFAULT_STATE_DIR})`,
      )
      .option(
        '--config <file>',
        `where the state directory is read from when --state-dir is not given (default: ${DEFAULT_CONFIG_FILE})`,
      )
      .addOption(outputOption());

  stateDirOption(program.command('sync').summary('ask the running agent to reconcile now, and wait for the result'))
    .description(
      'Asks the agent running on this gateway (through <state-dir>/agent.sock) to poll and reconcile now, instead ' +
        'of at its next scheduled poll, and prints what happened. A reconcile already running finishes ' +
        'first.\n\nExit status: 0 applied or nothing to do (or the branch is on a bad commit), 1 error or no ' +
        'agent running, 3 rolled back, 4 rollback incomplete.',
    )
    .option('--timeout <seconds>', 'give up waiting after this long (the reconcile goes on in the agent)', '3600')
    .action((opts) => run(async (io) => (await syncCommand()).runSync(opts, io)));

  stateDirOption(
    program
      .command('status')
      .summary('what the gateway runs: commit applied, last good, bad commits and why, the step in progress'),
  )
    .description(
      'Reads the agent state of <state-dir> (it works while the agent is stopped) and, when the agent runs, asks ' +
        'it what it is doing now.',
    )
    .action((opts) => run(async (io) => (await statusCommand()).runStatus(opts, io)));

  stateDirOption(
    program
      .command('history')
      .summary('what the agent did, newest first: applies, rollbacks, rejected commits, resumes'),
  )
    .option('--limit <n>', 'entries to show', '20')
    .action((opts) => run(async (io) => (await statusCommand()).runHistory(opts, io)));

  stateDirOption(
    program
      .command('forget <commit>')
      .summary('clear the bad record of a commit on this gateway, so that the agent may apply it again'),
  )
    .description(
      'A commit that failed on this gateway (rolled back, rejected, interrupted) is recorded as bad and never ' +
        'applied again on its own; the agent waits for the branch to move. Use forget when the fault was not the ' +
        "commit's: the gateway's configuration, a device or network that was down, a fix made on the gateway " +
        'itself, so that the same commit may run again without a new commit. <commit> is the id rollgate status ' +
        'shows, in full or abbreviated (4 hex digits at least).\n\nIt goes through the running agent (between ' +
        "two reconciles), or, when none runs, edits <state-dir>/agent-state.json under the agent's lock. The " +
        'history records who, when and why (--reason). If the branch still points at the commit, the next poll ' +
        '(or rollgate sync) applies it.\n\nExit status: 0 cleared, 1 error (not a bad commit here, an abbreviation ' +
        'that names several, no --reason).',
    )
    .requiredOption('--reason <why>', 'why it may be applied again; kept in the history')
    .action((commit: string, opts) => run(async (io) => (await syncCommand()).runForget(commit, opts, io)));
}
