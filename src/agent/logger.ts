// JSON log lines on stdout (journald under systemd), written synchronously so that a line logged
// just before a crash or a reboot is not lost. Credentials are redacted wherever they appear as
// fields; URLs are redacted where they are formatted (src/sync/errors.ts); and every line is
// scrubbed of the secrets the process read (the variables file, token and password files, gateway
// secret files) before it is written, whatever field or message carries them.

import { destination, pino, stdTimeFunctions, type Logger } from 'pino';
import type { LogLevel } from './config.js';
import { scrubLogLine } from './redaction.js';

export const REDACT_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'auth',
  '*.auth',
  'registryAuth',
  '*.registryAuth',
  'credentials',
  '*.credentials',
];

export function agentLogger(level: LogLevel, gateway: string, dest: number | string = 1): Logger {
  return pino(
    {
      level,
      base: { gateway },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      hooks: { streamWrite: scrubLogLine },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination({ dest, sync: true }),
  );
}
