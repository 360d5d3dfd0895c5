// sd_notify(3): READY=1 once the agent runs, WATCHDOG=1 while its event loop turns, STATUS= for
// `systemctl status`, STOPPING=1 on shutdown. A datagram to $NOTIFY_SOCKET through the optional
// unix-dgram addon; without it (or for an abstract socket) through systemd-notify(1), which
// needs NotifyAccess=all in the unit (it is set).

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

interface DgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb?: (err?: Error) => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
  close(): void;
}
interface UnixDgram {
  createSocket(type: 'unix_dgram'): DgramSocket;
}

function loadUnixDgram(): UnixDgram | undefined {
  try {
    return createRequire(import.meta.url)('unix-dgram') as UnixDgram;
  } catch {
    return undefined;
  }
}

export class SystemdNotifier {
  private readonly socket: string | undefined;
  private readonly dgram: UnixDgram | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  /** The STATUS= last sent: the same line again is not sent (each may cost a systemd-notify process). */
  private lastStatus: string | undefined;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.socket = env['NOTIFY_SOCKET'] || undefined;
    this.dgram = this.socket && !this.socket.startsWith('@') ? loadUnixDgram() : undefined;
    const usec = Number(env['WATCHDOG_USEC'] ?? 0);
    const pid = Number(env['WATCHDOG_PID'] ?? process.pid);
    if (this.socket && usec > 0 && pid === process.pid) {
      // Half the timeout, as sd_watchdog_enabled(3) advises.
      this.watchdog = setInterval(() => this.send('WATCHDOG=1'), Math.max(500, usec / 2000));
      this.watchdog.unref();
    }
  }

  get enabled(): boolean {
    return this.socket !== undefined;
  }

  send(message: string): void {
    if (!this.socket) return;
    if (this.dgram) {
      const s = this.dgram.createSocket('unix_dgram');
      s.on('error', () => {});
      const buf = Buffer.from(message);
      s.send(buf, 0, buf.length, this.socket, () => s.close());
      return;
    }
    const args = message.split('\n').filter(Boolean);
    const child = spawn('systemd-notify', [`--pid=${process.pid}`, ...args], { stdio: 'ignore' });
    child.on('error', () => {});
  }

  ready(status: string): void {
    this.lastStatus = status;
    this.send(`READY=1\nSTATUS=${status}`);
  }

  status(status: string): void {
    if (status === this.lastStatus) return;
    this.lastStatus = status;
    this.send(`STATUS=${status}`);
  }

  stopping(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.send('STOPPING=1');
  }
}
