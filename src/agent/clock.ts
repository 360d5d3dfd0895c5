// The gateway's clock as the maintenance window gate reads it: now, and whether the system says
// the clock is synchronised. systemd's `timedatectl show -p NTPSynchronized` answers that on a
// systemd gateway (it reads the kernel's adjtimex status through timedated); without it — no
// systemd, no D-Bus — the agent cannot tell and says nothing. The answer is kept a minute.

import { execFile } from 'node:child_process';
import type { ClockReading } from '../lifecycle/gates/gate.js';

const KEEP_MS = 60_000;

function ask(): Promise<Pick<ClockReading, 'synchronised' | 'source'>> {
  return new Promise((resolve) => {
    execFile('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeout: 5000 }, (err, stdout) => {
      const v = String(stdout).trim();
      if (err || (v !== 'yes' && v !== 'no')) return resolve({});
      resolve({ synchronised: v === 'yes', source: `timedatectl: NTPSynchronized=${v}` });
    });
  });
}

/** A clock port that asks the system at most once a minute. */
export function systemClock(): () => Promise<ClockReading> {
  let kept: { at: number; r: Pick<ClockReading, 'synchronised' | 'source'> } | undefined;
  return async () => {
    const now = Date.now();
    if (!kept || now - kept.at >= KEEP_MS || now < kept.at) kept = { at: now, r: await ask() };
    return { now, ...kept.r };
  };
}
