// `rollgate hub --promote-repo …`: the flags of the promoter loop inside the hub; the settings are
// made from them in ../hub-promoter.ts when the hub runs.

import type { Command } from 'commander';

export function promoterOptions(cmd: Command): Command {
  return cmd
    .option(
      '--promote-repo <url|path>',
      'run the promoter in the hub: one step of `rollgate rollout promote` on this fleet repo every interval, on the ' +
        "hub's own evidence (hub.yaml: promoter.repo); several hubs on one PostgreSQL run each round once",
    )
    .option('--promote-ref <branch>', 'the branch gateways follow (promoter.ref; default main)')
    .option(
      '--promote-signing-key <file>',
      'the armored OpenPGP private key the steps are signed with (promoter.signingKey)',
    )
    .option(
      '--promote-signing-passphrase-file <file>',
      'its passphrase, when it has one (promoter.signingPassphraseFile)',
    )
    .option('--promote-auth-token-file <file>', 'a token for the git server, fetch and push (promoter.authTokenFile)')
    .option('--promote-auth-basic-file <file>', '"user:password" for the git server (promoter.authBasicFile)')
    .option(
      '--promote-ca-file <file>',
      "PEM certificates of the CAs to trust for the git server's https certificate besides the system's, fetch " +
        'and push (promoter.caFile)',
    )
    .option('--promote-by <who>', 'who the steps name (promoter.by; default promoter@<host name>)')
    .option('--promote-interval <duration>', 'how often a step is tried (promoter.interval; default 1m)');
}
