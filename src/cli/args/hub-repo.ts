// `rollgate hub --repo …`: the fleet repo the hub's pages read (read-only); the settings are made
// from these flags in ../hub-repo.ts when the hub runs.

import type { Command } from 'commander';
import { collect } from '../identity.js';

export function repoOptions(cmd: Command): Command {
  return cmd
    .option(
      '--repo <url|path>',
      "read the fleet repo (read-only, with the agent's sync code): commit subjects, the branch head, rollouts and " +
        'their steps on the pages and /api/v1/rollouts (default: --promote-repo, when given)',
    )
    .option('--repo-ref <branch>', 'the branch gateways follow (default: --promote-ref, else main)')
    .option('--repo-auth-token-file <file>', "a token for the git server (default: the promoter's)")
    .option('--repo-auth-basic-file <file>', '"user:password" for the git server (default: the promoter\'s)')
    .option(
      '--repo-trusted-keys <file>',
      "verify commit signatures with these keys, as the agent's trust.keys (OpenPGP or allowed_signers; repeat)",
      collect,
      [],
    )
    .option('--repo-interval <duration>', 'how often the branch head is read (default 30s)')
    .option(
      '--repo-ca-file <file>',
      "PEM certificates of CAs to trust for an https repository besides the system's (a git server with a private CA)",
    );
}
