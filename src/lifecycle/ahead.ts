// Downloads ahead of the window (README "Maintenance windows"): when the window gate defers a
// commit, what its transaction will fetch is fetched now (src/gateway/prefetch.ts), and the
// deferral says so only when it is true — `downloaded (…)`, or `not downloaded yet (why)`. A
// failed download is no verdict on the commit: it is said, and tried again at the next poll.

import { errorMessage } from '../base/error-message.js';
import { shortCommit } from '../base/short-commit.js';
import { prefetch, prefetchedText } from '../gateway/prefetch.js';
import type { LifecyclePorts } from './ports.js';
import type { Deferral } from './recorder.js';
import type { Verdict } from './verdict.js';

export class AheadOfWindow {
  /** The commit whose downloads are on the gateway, and how that is said: not fetched again at each poll. */
  private done: { commit: string; said: string } | undefined;

  constructor(
    private readonly p: LifecyclePorts,
    /** Records a deferral (once per cause; a changed detail is kept quietly). */
    private readonly record: (d: Deferral) => Promise<Verdict>,
    done?: { commit: string; said: string },
  ) {
    this.done = done;
  }

  memory(): { commit: string; said: string } | undefined {
    return this.done;
  }

  /** Records the window gate's deferral, fetching what the commit needs meanwhile (loaded through `load`). */
  async defer(d: Deferral, load: LifecyclePorts['load'] = (c) => this.p.load(c)): Promise<Verdict> {
    const say = (what: string) => this.record({ ...d, why: `${what}, ${d.why}` });
    if (this.done?.commit === d.commit) return say(this.done.said);
    await say('downloading what it needs');
    let said: string;
    try {
      const { desired, repo } = await load(d.commit);
      const got = prefetchedText(await prefetch(desired, await this.p.appliers(desired, repo), this.p.log));
      said = `downloaded (${got ?? 'all it needs was on the gateway already'})`;
      this.done = { commit: d.commit, said };
      this.p.log.info(
        { commit: d.commit, gate: d.gate },
        `commit ${shortCommit(d.commit)} is ${said} ahead of its maintenance window`,
      );
    } catch (err) {
      const why = errorMessage(err);
      said = `not downloaded yet (${why}; tried again at the next poll)`;
      this.p.log.warn(
        { commit: d.commit, gate: d.gate, err: why },
        `could not download what commit ${shortCommit(d.commit)} needs ahead of its maintenance window, ` +
          `tried again at the next poll: ${why}`,
      );
    }
    return say(said);
  }
}
