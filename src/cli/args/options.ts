// The options several commands share: how to reach the fleet repo, the gateway's variables and
// policy, the Docker Engine and update interfaces, and how an apply runs. With their help text and
// defaults, and nothing that does the work: --help and --version load no more than this.

import { Option, type Command } from 'commander';
import { DEFAULT_INTERFACE_DIRS, DEFAULT_REBOOT_COMMAND } from '../../apply/interface/defaults.js';
import { DEFAULT_STATE_DIR } from '../../base/state-dir.js';
import { collect } from '../identity.js';

/** --output human|json. */
export const outputOption = (): Option =>
  new Option('--output <format>', 'human or json').choices(['human', 'json']).default('human');

export const CA_FILE_HELP =
  "PEM certificates to trust for the hub's TLS certificate besides the system's, for a hub with a private CA " +
  '(also $ROLLGATE_HUB_CA_FILE)';

export function interfaceOptions(cmd: Command): Command {
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

export function gatewayOptions(cmd: Command): Command {
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

export function applyOptions(cmd: Command): Command {
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

/** --repo-ca-file, said the same by every command that reads the fleet repo from a git server. */
export const REPO_CA_FILE_HELP =
  "URL repos: PEM certificates of the CAs to trust for the git server's https certificate, besides the " +
  "system's (a private CA; the agent's repo.caFile)";

export function repoOptions(cmd: Command): Command {
  return cmd
    .option('--repo <url|path>', 'fleet repo: an http(s) URL, or a local path (a checkout or a bare repo)', '.')
    .option(
      '--ref <rev>',
      'revision to read: branch, tag, commit id, with ~N or ^ (local path without --ref: the files as they are ' +
        'on disk, uncommitted changes included; URL default: main)',
    )
    .option('--auth-token-file <file>', 'URL repos: file holding a token, sent as "Authorization: Bearer"')
    .option('--auth-basic-file <file>', 'URL repos: file holding "user:password"')
    .option('--repo-ca-file <file>', REPO_CA_FILE_HELP)
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
    .option(
      '--promoter-keys <file>',
      "with --trusted-keys: keys that may sign a step of a staged rollout and nothing else, as the agent's " +
        'trust.promoterKeys does (a head they sign passes only as such a step); repeat for several',
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
export function variableOptions(cmd: Command): Command {
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
      '--decryption-key <file>',
      'an age identity file or an armored OpenPGP private key that opens SOPS-encrypted files of the fleet repo, ' +
        "as the agent's secrets.keyFiles (repeat for several). validate and diff without one check an encrypted " +
        "file's structure and say that its values and MAC were not checked; apply without one refuses it",
      collect,
      [],
    )
    .option(
      '--var-file <file>',
      "a file of KEY=value lines (the .env format), as the agent's gateway.variablesFile; --var wins over it " +
        '(repeat for several). Values of both are never printed: output names the variable, or shows [redacted]',
      collect,
      [],
    );
}
