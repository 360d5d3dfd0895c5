#!/usr/bin/env node
// The rollgate command line.

import { Command, Option } from 'commander';
import { collect } from './identity.js';
import { EXIT_ERROR, reportError, runDiff, runValidate, type Io } from './commands.js';
import { DEFAULT_STATE_DIR, runApply, runObserve } from './apply-command.js';
import { DEFAULT_INTERFACE_DIRS, DEFAULT_REBOOT_COMMAND } from '../apply/index.js';
import { processSecrets } from '../base/redact.js';
import { ROLLGATE_VERSION } from '../base/version.js';
import { DEFAULT_CONFIG_FILE } from '../agent/config.js';
import { addSettingOptions, runAgent, runForget, runHistory, runStatus, runSync } from './agent-command.js';
import { runArtifactsLock } from './artifacts-command.js';
import { runFleetCommit, runFleetGateways, runFleetStatus } from './fleet-command.js';
import {
  DEFAULT_HUB_DATA_DIR,
  runGatewayAdd,
  runGatewayList,
  runGatewayRemove,
  runGatewayToken,
  runHub,
  runTokenAdd,
  runTokenList,
  runTokenRemove,
} from './hub-command.js';
import { DEFAULT_HUB_LISTEN } from '../hub/index.js';
import { reportRolloutError, runRolloutExplain } from './rollout-command.js';
import { addRolloutCommands } from './rollout-commands.js';

// A reader that went away (`rollgate history | head`) costs only the rest of the output: the
// command runs to its end (an apply is not cut short by a closed pipe) and exits with its own
// code, without an EPIPE stack trace.
const gone = new Set<NodeJS.WriteStream>();
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
    gone.add(stream);
  });
const write = (stream: NodeJS.WriteStream, s: string) => {
  if (!gone.has(stream)) stream.write(s);
};

// The last line for secrets this process read (--var-file, --var, credentials files): whatever a
// command prints is scrubbed of them (src/base/redact.ts).
const io: Io = {
  out: (s) => write(process.stdout, processSecrets.scrub(s)),
  err: (s) => write(process.stderr, processSecrets.scrub(s)),
  colour: Boolean(process.stdout.isTTY) && !process.env['NO_COLOR'],
};

function interfaceOptions(cmd: Command): Command {
  return cmd
    .option(
      '--state-dir <dir>',
      'the journal of the apply in flight, component records and work directories, the artifact cache',
      DEFAULT_STATE_DIR,
    )
    .option(
      '--interfaces-dir <dir>',
      `where update-interface executables and Update Modules are looked up, in order (repeat for several; ` +
        `default: ${DEFAULT_INTERFACE_DIRS.join(', ')})`,
      collect,
    );
}

function gatewayOptions(cmd: Command): Command {
  return interfaceOptions(cmd)
    .option(
      '--docker-host <socket>',
      "the Docker Engine's unix socket (default: $DOCKER_HOST, else unix:///var/run/docker.sock; needed only " +
        'when apps are desired)',
    )
    .option(
      '--registry-auth-file <file>',
      'YAML or JSON map of registry host to { username, password }, used for pulls; the passwords are never printed',
    );
}

function applyOptions(cmd: Command): Command {
  return cmd
    .option('--state-script-timeout <duration>', 'longest one run of a Mender state script may take', '1h')
    .option('--state-script-retry-interval <duration>', 'wait before running again a state script that exited 21', '1m')
    .option('--state-script-retry-timeout <duration>', 'how long a state script may keep asking to run again', '30m')
    .option(
      '--artifact-key <file>',
      'install only Mender artifacts signed with this PEM public key (RSA, ECDSA P-256, Ed25519), as the ' +
        "agent's trust.artifactKeys; repeat for several",
      collect,
      [],
    )
    .option(
      '--reboot-command <argv>',
      'how the gateway reboots for NeedsArtifactReboot: Automatic (split on spaces, no shell)',
      DEFAULT_REBOOT_COMMAND.join(' '),
    )
    .option(
      '--reboot-wait <duration>',
      'how long the reboot command may take to take this process down before the reboot counts as failed',
      '5m',
    )
    .option(
      '--interface-timeout <duration>',
      'longest an interface state (Download, ArtifactInstall, ...) may run before SIGTERM',
      '4h',
    )
    .option(
      '--interface-state-timeout <State=duration>',
      'the timeout of one state or query, over --interface-timeout (queries: 1m); e.g. Download=30m, ' +
        'ArtifactInstall=2h, Provides=10s (repeat for several)',
      collect,
    )
    .option('--interface-kill-grace <duration>', 'between SIGTERM and SIGKILL when an interface runs too long', '1m')
    .option(
      '--artifact-cache-size <size>',
      'artifacts kept in <state-dir>/artifacts (least recently used go first)',
      '1G',
    );
}

function repoOptions(cmd: Command): Command {
  return cmd
    .option('--repo <url|path>', 'fleet repo: an http(s) URL, or a local path (a checkout or a bare repo)', '.')
    .option(
      '--ref <rev>',
      'revision to read: branch, tag, commit id, with ~N or ^ (local path without --ref: the files as they are ' +
        'on disk, uncommitted changes included; URL default: main)',
    )
    .option('--auth-token-file <file>', 'URL repos: file holding a token, sent as "Authorization: Bearer"')
    .option('--auth-basic-file <file>', 'URL repos: file holding "user:password"')
    .option(
      '--cache-dir <dir>',
      'URL repos: keep the fetched objects here (default: a temporary directory, removed afterwards)',
    )
    .option('--depth <n>', 'URL repos: commits of history to fetch, enough to reach --against commit:<rev>', '50')
    .option(
      '--trusted-keys <file>',
      "refuse the commit unless it is signed by a key of this file (OpenPGP public keys, or SSH keys in git's " +
        "allowed_signers format), as the agent's trust.keys does; repeat for several",
      collect,
      [],
    )
    .addOption(
      new Option('--trust-mode <mode>', 'head: the commit is signed; tag: a signed tag points at it')
        .choices(['head', 'tag'])
        .default('head'),
    );
}

/** --var / --var-file: the gateway's own variables for ${VAR} in Compose files. */
function variableOptions(cmd: Command): Command {
  return cmd
    .option(
      '--var <KEY=value>',
      "a value for ${KEY} in Compose files, over the fleet target's variables and the .env beside each Compose " +
        'file (repeat for several)',
      collect,
      [],
    )
    .option(
      '--policy-file <file>',
      "check the commit against a gateway's policy: the agent's configuration file (its policy:) or a file " +
        'of just the policy map. With a policy, whatever reaches the host (host namespaces, binds, devices, ' +
        'volume and network drivers and options, security options, sysctls, runtimes, host ports, state ' +
        'scripts, interfaces, health commands) is refused unless a rule allows it; paths are compared ' +
        'normalised. What it forbids is a problem naming the rule and the file:line',
    )
    .option(
      '--var-file <file>',
      "a file of KEY=value lines (the .env format), as the agent's gateway.variablesFile; --var wins over it " +
        '(repeat for several). Values of both are never printed: output names the variable, or shows [redacted]',
      collect,
      [],
    );
}

const program = new Command()
  .name('rollgate')
  .description(
    'GitOps pull agent for edge gateways: device components behind update interfaces and Docker containers, as ' +
      'one system.',
  )
  .version(ROLLGATE_VERSION)
  .option('--color', 'colour the output even when it is not a terminal')
  .option('--no-color', 'never colour the output (NO_COLOR is honoured too)')
  .showHelpAfterError();

program.on('option:color', () => (io.colour = true));
program.on('option:no-color', () => (io.colour = false));

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
  .addOption(new Option('--output <format>', 'human or json').choices(['human', 'json']).default('human'))
  .addHelpText(
    'after',
    '\nExamples:\n  rollgate diff --repo ./fleet --id gw-0001                       # working tree vs a fresh ' +
      'gateway\n  rollgate diff --repo ./fleet --id gw-0001 --against live        # working tree vs this ' +
      'gateway, now\n  rollgate diff --repo ./fleet --ref main --against commit:main~1 --id gw-0001\n  rollgate ' +
      'diff --repo https://git.example.com/fleet.git --auth-token-file /etc/rollgate/token --id gw-0001 --output json',
  )
  .action(async (opts) => {
    process.exitCode = await runDiff(opts, io).catch((e) => reportError(e, io));
  });

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
  .addOption(new Option('--output <format>', 'human or json').choices(['human', 'json']).default('human'))
  .action(async (opts) => {
    process.exitCode = await runValidate(opts, io).catch((e) => reportError(e, io));
  });

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
  .addOption(new Option('--output <format>', 'human or json').choices(['human', 'json']).default('human'))
  .addHelpText(
    'after',
    '\nExamples:\n  rollgate apply --repo ./fleet --ref main --id gw-0001\n  rollgate apply --repo ' +
      'https://git.example.com/fleet.git --id gw-0001 --registry-auth-file /etc/rollgate/registries.yaml',
  )
  .action(async (opts) => {
    process.exitCode = await runApply(opts, io).catch((e) => reportError(e, io));
  });

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
  .addOption(new Option('--output <format>', 'human or json').choices(['human', 'json']).default('human'))
  .action(async (opts) => {
    process.exitCode = await runObserve(opts, io).catch((e) => reportError(e, io));
  });

addSettingOptions(
  program
    .command('agent')
    .summary(
      'run the agent: poll the fleet repo, apply new commits behind the health gate, roll back to the last good commit',
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
      `the configuration file (env ROLLGATE_CONFIG; default: ${DEFAULT_CONFIG_FILE}, optional when it does not exist)`,
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
  .action(async (opts) => {
    process.exitCode = await runAgent(opts, io).catch((e) => reportError(e, io));
  });

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
  .action(async (opts) => {
    process.exitCode = await runArtifactsLock(opts, io).catch((e) => reportError(e, io));
  });

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
    .addOption(new Option('--output <format>', 'human or json').choices(['human', 'json']).default('human'));

stateDirOption(program.command('sync').summary('ask the running agent to reconcile now, and wait for the result'))
  .description(
    'Asks the agent running on this gateway (through <state-dir>/agent.sock) to poll and reconcile now, instead ' +
      'of at its next scheduled poll, and prints what happened. A reconcile already running finishes ' +
      'first.\n\nExit status: 0 applied or nothing to do (or the branch is on a bad commit), 1 error or no ' +
      'agent running, 3 rolled back, 4 rollback incomplete.',
  )
  .option('--timeout <seconds>', 'give up waiting after this long (the reconcile goes on in the agent)', '3600')
  .action(async (opts) => {
    process.exitCode = await runSync(opts, io).catch((e) => reportError(e, io));
  });

stateDirOption(
  program
    .command('status')
    .summary('what the gateway runs: commit applied, last good, bad commits and why, the step in progress'),
)
  .description(
    'Reads the agent state of <state-dir> (it works while the agent is stopped) and, when the agent runs, asks ' +
      'it what it is doing now.',
  )
  .action(async (opts) => {
    process.exitCode = await runStatus(opts, io).catch((e) => reportError(e, io));
  });

stateDirOption(
  program.command('history').summary('what the agent did, newest first: applies, rollbacks, rejected commits, resumes'),
)
  .option('--limit <n>', 'entries to show', '20')
  .action(async (opts) => {
    process.exitCode = await runHistory(opts, io).catch((e) => reportError(e, io));
  });

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
  .action(async (commit: string, opts) => {
    process.exitCode = await runForget(commit, opts, io).catch((e) => reportError(e, io));
  });

// ---- staged rollouts

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
addRolloutCommands(rollout, io);
rollout
  .command('explain')
  .summary('what a gateway runs now under the rollout, and why: its wave, admitted or not, the commit')
  .description(
    "Reads the branch's head of the fleet repo (a local git repository or its URL: no hub, no other network), " +
      'its rollgate-rollout.yaml and the rollout policy of the target commit, and works out what the gateway ' +
      '--id/--label runs now, as the gateway itself would: its wave (waves that name gateways by labels or ids ' +
      'first, then percent waves by a stable hash of the id with the rollout salt), whether the wave is open, and ' +
      'the commit it runs (the target when admitted, else the base; the base for everyone after an abort). ' +
      'Without rollgate-rollout.yaml, every gateway follows the branch head.\n\nExit status: 0 explained, 1 error ' +
      '(an invalid rollout file or policy, an unreadable repo).',
  )
  .option('--repo <url|path>', 'fleet repo: an http(s) URL, or a local git repository (a checkout or a bare repo)', '.')
  .option('--ref <rev>', 'the branch gateways follow (or a tag or commit, with ~N or ^)', 'main')
  .option('--id <gateway-id>', 'the gateway id (waves and targets match on it; percent waves hash it)')
  .option('--label <key=value>', 'a gateway label (repeat for several)', collect, [])
  .option('--auth-token-file <file>', 'URL repos: file holding a token, sent as "Authorization: Bearer"')
  .option('--auth-basic-file <file>', 'URL repos: file holding "user:password"')
  .option('--cache-dir <dir>', 'URL repos: keep the fetched objects here (default: a temporary directory)')
  .option('--depth <n>', "URL repos: commits of history to fetch, enough to reach the rollout's target", '50')
  .addOption(new Option('--output <format>', 'human or json').choices(['human', 'json']).default('human'))
  .addHelpText(
    'after',
    '\nExamples:\n  rollgate rollout explain --repo ./fleet --id gw-0042 --label ring=canary\n' +
      '  rollgate rollout explain --repo https://git.example.com/fleet.git --id gw-0042 --output json',
  )
  .action(async (opts) => {
    process.exitCode = await runRolloutExplain(opts, io).catch((e) => reportRolloutError(e, io));
  });

// ---- the fleet hub

function databaseOptions(cmd: Command): Command {
  return cmd
    .option(
      '--database <url>',
      'PostgreSQL: postgres://user@host/db (also $ROLLGATE_HUB_DATABASE); several hubs may share one',
    )
    .option(
      '--data-dir <dir>',
      `without --database: the embedded database (PGlite, PostgreSQL in-process) lives here, for one hub ` +
        `(default ${DEFAULT_HUB_DATA_DIR})`,
    )
    .option('--config <file>', 'the hub configuration (YAML: listen, database, dataDir, tls, silentAfter, webhooks)');
}

const CA_FILE_HELP =
  "PEM certificates to trust for the hub's TLS certificate besides the system's, for a hub with a private CA " +
  '(also $ROLLGATE_HUB_CA_FILE)';

function viaHubOptions(cmd: Command): Command {
  return cmd
    .option('--hub <url>', "go through this running hub's API instead of the database (also $ROLLGATE_HUB_URL)")
    .option('--token-file <file>', 'with --hub: a file holding an admin token (also $ROLLGATE_HUB_TOKEN_FILE)')
    .option('--ca-file <file>', CA_FILE_HELP);
}

const hub = program
  .command('hub')
  .summary('the fleet hub: gateways report to it, operators read it (REST API, web page, webhooks, metrics)')
  .description(
    'The fleet hub. `rollgate hub serve` (or just `rollgate hub`) runs the server; `gateway` and `token` ' +
      'manage who may talk to it. Gateways report with their own token (report.url and report.tokenFile in the ' +
      'agent configuration); people and scripts use reader or admin tokens.',
  );

databaseOptions(
  hub
    .command('serve', { isDefault: true })
    .summary('run the hub server')
    .description(
      'Serves the REST API (/api/v1, described at /api/v1/openapi.json), the web page at /, Prometheus metrics ' +
        'at /metrics and /healthz, over HTTP or HTTPS. The database is migrated at start. SIGTERM stops it after ' +
        'the reports in flight are stored.',
    ),
)
  .option('--listen <host:port>', `where to listen (default ${DEFAULT_HUB_LISTEN})`)
  .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (with --tls-key)')
  .option('--tls-key <file>', 'the PEM private key of --tls-cert')
  .option('--silent-after <duration>', 'a gateway with no report for this long is silent (default 15m)')
  .option('--max-report-size <size>', 'the largest report the hub takes (default 1M)')
  .option(
    '--retain <duration>',
    "how long events are kept (default 2160h, 90 days); gateways' status and verdicts per commit stay",
  )
  .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'))
  .addHelpText(
    'after',
    '\nFirst steps:\n  rollgate hub token add --role admin ops        # your token, printed once\n' +
      "  rollgate hub gateway add gw-0001 --label site=berlin   # the gateway's token, printed once\n" +
      '  rollgate hub --listen 0.0.0.0:9480 --tls-cert hub.crt --tls-key hub.key\n' +
      '  rollgate hub --database postgres://rollgate@db.example.com/rollgate   # on PostgreSQL',
  )
  .action(async (opts) => {
    process.exitCode = await runHub(opts, io).catch((e) => reportError(e, io));
  });

const gatewayCmd = hub.command('gateway').summary('add, list, re-token or remove gateways');
viaHubOptions(databaseOptions(gatewayCmd.command('add <id>').summary('add a gateway; prints its token once')))
  .option('--label <key=value>', 'a label (repeat for several)', collect, [])
  .action(async (id: string, opts) => {
    process.exitCode = await runGatewayAdd(id, opts, io).catch((e) => reportError(e, io));
  });
viaHubOptions(
  databaseOptions(gatewayCmd.command('token <id>').summary('a new token for a gateway; the old one stops')),
).action(async (id: string, opts) => {
  process.exitCode = await runGatewayToken(id, opts, io).catch((e) => reportError(e, io));
});
viaHubOptions(databaseOptions(gatewayCmd.command('remove <id>').summary('remove a gateway and its history'))).action(
  async (id: string, opts) => {
    process.exitCode = await runGatewayRemove(id, opts, io).catch((e) => reportError(e, io));
  },
);
viaHubOptions(databaseOptions(gatewayCmd.command('list').summary('the gateways the hub knows')))
  .addOption(new Option('--output <format>', 'human or json').choices(['human', 'json']).default('human'))
  .action(async (opts) => {
    process.exitCode = await runGatewayList(opts, io).catch((e) => reportError(e, io));
  });

const tokenCmd = hub.command('token').summary("people's and scripts' tokens: reader (read) or admin (read and change)");
databaseOptions(tokenCmd.command('add <name>').summary('add a token; prints it once'))
  .addOption(new Option('--role <role>', 'reader or admin').choices(['reader', 'admin']).default('reader'))
  .action(async (name: string, opts) => {
    process.exitCode = await runTokenAdd(name, opts, io).catch((e) => reportError(e, io));
  });
databaseOptions(tokenCmd.command('remove <name>').summary('remove a token')).action(async (name: string, opts) => {
  process.exitCode = await runTokenRemove(name, opts, io).catch((e) => reportError(e, io));
});
databaseOptions(tokenCmd.command('list').summary('the tokens (names and roles; never the tokens)')).action(
  async (opts) => {
    process.exitCode = await runTokenList(opts, io).catch((e) => reportError(e, io));
  },
);

function fleetOptions(cmd: Command): Command {
  return cmd
    .option('--hub <url>', 'the hub (also $ROLLGATE_HUB_URL)')
    .option('--token-file <file>', 'a file holding a reader or admin token (also $ROLLGATE_HUB_TOKEN_FILE)')
    .option('--ca-file <file>', CA_FILE_HELP)
    .addOption(new Option('--output <format>', 'human or json').choices(['human', 'json']).default('human'));
}

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
      '  rollgate fleet gateways --label site=berlin --condition Ready=False',
  );
fleetOptions(
  fleet.command('status').summary('gateways by condition, recent commits, failures, silent gateways'),
).action(async (opts) => {
  process.exitCode = await runFleetStatus(opts, io).catch((e) => reportError(e, io));
});
fleetOptions(
  fleet
    .command('commit <sha>')
    .summary('one commit across the fleet: applied, healthy, rolled back (and why), rejected, pending, silent'),
).action(async (sha: string, opts) => {
  process.exitCode = await runFleetCommit(sha, opts, io).catch((e) => reportError(e, io));
});
fleetOptions(fleet.command('gateways').summary('the gateways, with filters'))
  .option('--label <key=value>', 'only gateways with this label (repeat for several)', collect, [])
  .option('--condition <cond>', 'Ready, Healthy or Stalled, with =True, =False or =Unknown')
  .option('--commit <sha>', 'only gateways that run this commit')
  .option('--stale', 'only gateways that stopped reporting')
  .action(async (opts) => {
    process.exitCode = await runFleetGateways(opts, io).catch((e) => reportError(e, io));
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  io.err(`error: ${(err as Error).message}\n`);
  process.exitCode = EXIT_ERROR;
});
