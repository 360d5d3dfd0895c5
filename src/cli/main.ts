#!/usr/bin/env node
// The rollgate command line. Every command's arguments and help are declared up front (./args);
// the modules that do a command's work are imported when it runs, so `rollgate --version` loads
// the parser alone and the agent never loads the hub (test/cli/lazy-loading.test.ts).

import { Command } from 'commander';
import { ROLLGATE_VERSION } from '../base/version.js';
import { addAgentCommand, addAgentStateCommands } from './args/agent.js';
import { addFleetCommands } from './args/fleet.js';
import { addArtifactsCommand, addFleetRepoCommands } from './args/fleet-repo.js';
import { addGatewayCommands } from './args/gateway.js';
import { addHubCommands } from './args/hub.js';
import { addRolloutCommands } from './args/rollout.js';
import { runner } from './args/run.js';
import { EXIT_ERROR, processIo } from './io.js';

const io = processIo();
const run = runner(io);

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

// In the order `rollgate --help` lists them.
addFleetRepoCommands(program, run);
addGatewayCommands(program, run);
addAgentCommand(program, run);
addArtifactsCommand(program, run);
addAgentStateCommands(program, run);
addRolloutCommands(program, run);
addHubCommands(program, run);
addFleetCommands(program, run);

program.parseAsync(process.argv).catch((err: unknown) => {
  io.err(`error: ${(err as Error).message}\n`);
  process.exitCode = EXIT_ERROR;
});
