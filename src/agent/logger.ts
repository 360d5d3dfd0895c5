// JSON log lines on stdout (journald under systemd), written synchronously so that a line logged
// just before a crash or a reboot is not lost. Credentials are redacted wherever they appear as
// fields; URLs are redacted where they are formatted (src/sync/errors.ts).

import { destination, pino, stdTimeFunctions, type Logger } from 'pino';
import type { LogLevel } from './config.js';

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
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination({ dest, sync: true }),
  );
}
