// The policy gate (safety rule 9): the commit the gateway is about to run is loaded — every file
// validated — under the gateway's policy, which is checked as it loads. A commit that does not
// load is refused as `invalid`, one that asks for more than the policy allows as `forbidden`. A
// fault of the gateway's own configuration (no fleet target matches it, its variables file does
// not parse) is thrown: never a verdict on the commit.

import { FleetRepoError } from '../../manifest/index.js';
import type { Gate } from './gate.js';

export const policyGate: Gate = {
  name: 'policy',
  phase: 'apply',
  why: 'it loads the commit that will run, so it comes after the gates that choose that commit',
  async check(s, p) {
    try {
      return { kind: 'admit', loaded: await p.load(s.commit) };
    } catch (err) {
      if (err instanceof FleetRepoError && !err.gatewayFault)
        return { kind: 'refuse', commit: s.commit, bad: err.forbidden ? 'forbidden' : 'invalid', reason: err.message };
      throw err;
    }
  },
};
