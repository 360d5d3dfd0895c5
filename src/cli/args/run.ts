// How a command's action runs: the module that does its work is imported only then, so a command
// loads what it uses, and `--version` or `--help` load none of them.

import type { Io } from '../io.js';

/** Says what went wrong and returns the exit code; rethrows what is a bug. */
export type Reporter = (err: unknown, io: Io) => number | Promise<number>;

/** Runs a command's work (which imports its module); its result becomes the exit code. */
export type Runner = (task: (io: Io) => Promise<number>, report?: Reporter) => Promise<void>;

/** Errors that users cause get their own message and exit 1 (../commands.ts). */
const reportError: Reporter = async (err, io) => (await import('../commands.js')).reportError(err, io);

export function runner(io: Io): Runner {
  return async (task, report = reportError) => {
    process.exitCode = await task(io).catch((err: unknown) => report(err, io));
  };
}
