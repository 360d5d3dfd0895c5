// A Log that keeps every message as a line, for tests that assert what an operator would read.

import type { Log } from '../../src/base/log.js';

export class Lines implements Log {
  text = '';
  private add = (_o: Record<string, unknown>, msg: string) => void (this.text += msg + '\n');
  debug = this.add;
  info = this.add;
  warn = this.add;
  error = this.add;
}
