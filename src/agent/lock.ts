// One agent per state directory (src/base/pid-lock.ts).

import { LockedError, PidLock } from '../base/pid-lock.js';
import { statePath } from '../base/state-dir.js';

export { LockedError };

export const AgentLock = {
  acquire(stateDir: string): Promise<PidLock> {
    return PidLock.acquire(
      statePath(stateDir, 'lock'),
      (pid, since) =>
        `another rollgate agent (pid ${pid}, since ${since}) uses the state directory ${stateDir}; ` +
        'only one agent may run per gateway',
    );
  },
};
