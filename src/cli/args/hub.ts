// `rollgate hub`: the server, and its gateways and tokens. Their arguments and help; the work is in
// ../hub-command.ts (the hub and its database drivers), loaded when one runs.

import { Option, type Command } from 'commander';
import { DEFAULT_HUB_DATA_DIR, DEFAULT_HUB_LISTEN } from '../../hub/defaults.js';
import { hubDriversMissing } from '../hub-drivers.js';
import { collect } from '../identity.js';
import { CA_FILE_HELP, outputOption } from './options.js';
import type { Runner } from './run.js';
import { promoterOptions } from './hub-promoter.js';
import { repoOptions } from './hub-repo.js';

// The drivers are missing on a gateway install: said as what to install.
const hubCommand = () =>
  import('../hub-command.js').catch((err: unknown) => {
    throw hubDriversMissing(err);
  });

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
    .option(
      '--config <file>',
      'the hub configuration (YAML: listen, database, dataDir, tls, silentAfter, webhooks, promoter)',
    );
}

function viaHubOptions(cmd: Command): Command {
  return cmd
    .option('--hub <url>', "go through this running hub's API instead of the database (also $ROLLGATE_HUB_URL)")
    .option('--token-file <file>', 'with --hub: a file holding an admin token (also $ROLLGATE_HUB_TOKEN_FILE)')
    .option('--ca-file <file>', CA_FILE_HELP);
}

export function addHubCommands(program: Command, run: Runner): void {
  const hub = program
    .command('hub')
    .summary('the fleet hub: gateways report to it, operators read it (REST API, web page, webhooks, metrics)')
    .description(
      'The fleet hub. `rollgate hub serve` (or just `rollgate hub`) runs the server; `gateway` and `token` ' +
        'manage who may talk to it. Gateways report with their own token (report.url and report.tokenFile in the ' +
        'agent configuration); people and scripts use reader or admin tokens.',
    );

  const serve = hub
    .command('serve', { isDefault: true })
    .summary('run the hub server')
    .description(
      'Serves the REST API (/api/v1, described at /api/v1/openapi.json), the web page at /, Prometheus metrics ' +
        'at /metrics and /healthz, over HTTP or HTTPS. The database is migrated at start. SIGTERM stops it after ' +
        'the reports in flight are stored. With --repo it reads the fleet repo: commit subjects, the branch head ' +
        'and the rollout pages (/rollouts).',
    );
  repoOptions(promoterOptions(databaseOptions(serve)))
    .option('--listen <host:port>', `where to listen (default ${DEFAULT_HUB_LISTEN})`)
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (with --tls-key)')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .option('--silent-after <duration>', 'a gateway with no report for this long is silent (default 15m)')
    .option('--max-report-size <size>', 'the largest report the hub takes (default 1M)')
    .option(
      '--retain <duration>',
      "how long events are kept (default 2160h, 90 days); gateways' status and verdicts per commit stay",
    )
    .addOption(
      new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'),
    )
    .addHelpText(
      'after',
      '\nFirst steps:\n  rollgate hub token add --role admin ops        # your token, printed once\n' +
        "  rollgate hub gateway add gw-0001 --label site=berlin   # the gateway's token, printed once\n" +
        '  rollgate hub --listen 0.0.0.0:9480 --tls-cert hub.crt --tls-key hub.key\n' +
        '  rollgate hub --database postgres://rollgate@db.example.com/rollgate   # on PostgreSQL',
    )
    .action((opts) => run(async (io) => (await hubCommand()).runHub(opts, io)));

  const gatewayCmd = hub.command('gateway').summary('add, list, re-token or remove gateways');
  viaHubOptions(databaseOptions(gatewayCmd.command('add <id>').summary('add a gateway; prints its token once')))
    .option('--label <key=value>', 'a label (repeat for several)', collect, [])
    .action((id: string, opts) => run(async (io) => (await hubCommand()).runGatewayAdd(id, opts, io)));
  viaHubOptions(
    databaseOptions(gatewayCmd.command('token <id>').summary('a new token for a gateway; the old one stops')),
  ).action((id: string, opts) => run(async (io) => (await hubCommand()).runGatewayToken(id, opts, io)));
  viaHubOptions(databaseOptions(gatewayCmd.command('remove <id>').summary('remove a gateway and its history'))).action(
    (id: string, opts) => run(async (io) => (await hubCommand()).runGatewayRemove(id, opts, io)),
  );
  viaHubOptions(databaseOptions(gatewayCmd.command('list').summary('the gateways the hub knows')))
    .addOption(outputOption())
    .action((opts) => run(async (io) => (await hubCommand()).runGatewayList(opts, io)));

  const tokenCmd = hub
    .command('token')
    .summary("people's and scripts' tokens: reader (read) or admin (read and change)");
  databaseOptions(tokenCmd.command('add <name>').summary('add a token; prints it once'))
    .addOption(new Option('--role <role>', 'reader or admin').choices(['reader', 'admin']).default('reader'))
    .action((name: string, opts) => run(async (io) => (await hubCommand()).runTokenAdd(name, opts, io)));
  databaseOptions(tokenCmd.command('remove <name>').summary('remove a token')).action((name: string, opts) =>
    run(async (io) => (await hubCommand()).runTokenRemove(name, opts, io)),
  );
  databaseOptions(tokenCmd.command('list').summary('the tokens (names and roles; never the tokens)')).action((opts) =>
    run(async (io) => (await hubCommand()).runTokenList(opts, io)),
  );
}
