// What the Docker applier's tests against a real Engine share: a log that keeps every line, an
// app's containers, and a port held taken.

import { createServer, type Server } from 'node:net';
import type Docker from 'dockerode';
import { LABEL } from '../../src/apply/index.js';
import type { Log } from '../../src/base/log.js';

/** Every log line, for assertions on what operators see. */
export class Recorder implements Log {
  lines: { level: string; msg: string; obj: Record<string, unknown> }[] = [];
  onLine: ((msg: string) => void) | undefined;
  private add = (level: string) => (obj: Record<string, unknown>, msg: string) => {
    this.lines.push({ level, msg, obj });
    this.onLine?.(msg);
  };
  debug = this.add('debug');
  info = this.add('info');
  warn = this.add('warn');
  error = this.add('error');
  text(): string {
    return this.lines.map((l) => l.msg).join('\n');
  }
}

export async function appContainers(docker: Docker, app: string) {
  return docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL.app}=${app}`] }) });
}

export async function listening(port: number): Promise<Server> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(port, '127.0.0.1', () => r()));
  return s;
}
