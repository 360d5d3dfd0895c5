// Where a command writes, and the exit codes every command shares. Light on purpose: the command
// line's parser loads it before it knows which command runs.

import { processSecrets } from '../base/redact.js';

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_CHANGES = 2;
/** An apply failed and the gateway was put back as it was. */
export const EXIT_ROLLED_BACK = 3;
/** An apply failed and the gateway could not be put back completely. */
export const EXIT_ROLLBACK_INCOMPLETE = 4;

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  colour: boolean;
}

/**
 * This process's stdout and stderr as an Io. A reader that went away (`rollgate history | head`)
 * costs only the rest of the output: the command runs to its end (an apply is not cut short by a
 * closed pipe) and exits with its own code, without an EPIPE stack trace. Whatever a command
 * prints is scrubbed of the secrets this process read (--var-file, --var, credentials files:
 * src/base/redact.ts), the last line for them.
 */
export function processIo(): Io {
  const gone = new Set<NodeJS.WriteStream>();
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
      gone.add(stream);
    });
  const write = (stream: NodeJS.WriteStream, s: string) => {
    if (!gone.has(stream)) stream.write(s);
  };
  return {
    out: (s) => write(process.stdout, processSecrets.scrub(s)),
    err: (s) => write(process.stderr, processSecrets.scrub(s)),
    colour: Boolean(process.stdout.isTTY) && !process.env['NO_COLOR'],
  };
}
