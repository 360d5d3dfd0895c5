// The promoter inside `rollgate hub`: every interval, one step of `rollgate rollout promote` on the
// fleet repo, with the evidence read straight from this hub's database (on its clock). Several hubs
// on one PostgreSQL run it once per round: each round holds a PostgreSQL advisory lock, and a hub
// that does not get it skips the round. The embedded database is held by one hub process (its lock
// file), so that hub runs every round. A round that fails (the git server away) writes nothing and
// is tried again at the next interval; the rollout holds meanwhile.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Log } from '../base/log.js';
import {
  openPromoterRepo,
  promoteDecider,
  runStep,
  type CommitSigner,
  type PromoterRepo,
  type PromoterRepoSpec,
  type StepResult,
} from '../promoter/index.js';
import type { Database, Sql } from './db.js';
import { rolloutEvidence } from './rollout-evidence.js';
import { Rounds } from './rounds.js';
import { shortCommit } from '../base/short-commit.js';

/** The advisory lock key of the promoter's rounds ("rg-pro"). */
export const PROMOTER_LOCK = 0x72672d70726f;

export interface PromoterSettings {
  repo: Omit<PromoterRepoSpec, 'cacheDir' | 'depth'>;
  signer: CommitSigner;
  /** Who each step names. */
  by: string;
  intervalMs: number;
}

export class PromoterLoop {
  private readonly cache = mkdtempSync(join(tmpdir(), 'rollgate-hub-promoter-'));
  private readonly repo: PromoterRepo;
  private readonly rounds: Rounds;
  /** What the last round said, so a rollout that waits is logged when its reason changes, not every round. */
  private said = '';

  constructor(
    private readonly db: Database,
    private readonly log: Log,
    private readonly s: PromoterSettings,
  ) {
    this.repo = openPromoterRepo({ ...s.repo, cacheDir: this.cache, depth: 50 });
    this.rounds = new Rounds(() => this.round(), s.intervalMs);
  }

  start(): void {
    this.rounds.start();
  }

  async stop(): Promise<void> {
    await this.rounds.stop();
    this.repo.close();
    rmSync(this.cache, { recursive: true, force: true });
  }

  /** One round: a step, nothing to write, or 'skipped' when another hub holds the round. Public for tests. */
  async round(): Promise<StepResult | 'skipped' | 'failed'> {
    const step = (sql: Sql) =>
      runStep({
        repo: this.repo,
        signer: this.s.signer,
        decide: promoteDecider(this.repo, { by: this.s.by, evidence: (_id, target) => rolloutEvidence(sql, target) }),
        note: (line) => this.log.info({ repo: this.repo.name }, `promoter: ${line}`),
      });
    try {
      // The embedded database has one process: no other hub to share the round with.
      const r = this.db.kind === 'postgres' ? await this.db.exclusive(PROMOTER_LOCK, step) : await step(this.db);
      if (r === undefined) {
        this.log.debug({}, 'promoter: another hub runs this round');
        return 'skipped';
      }
      this.tell(r);
      return r;
    } catch (err) {
      const message = (err as Error).message;
      this.log.warn(
        { repo: this.repo.name, err: message },
        `promoter: the round failed and wrote nothing; the rollout holds, and the next round tries again: ${message}`,
      );
      this.said = '';
      return 'failed';
    }
  }

  private tell(r: StepResult): void {
    const o = r.outcome;
    if (o.kind === 'write') {
      this.said = '';
      const line = `promoter: ${o.title} (commit ${shortCommit(r.commit!)}): ${o.step.why}`;
      const fields = { repo: this.repo.name, commit: r.commit, action: o.step.action };
      if (o.exit === 'attention') this.log.warn(fields, line);
      else this.log.info(fields, line);
      return;
    }
    if (o.message === this.said) return;
    this.said = o.message;
    if (o.exit === 'attention') this.log.warn({ repo: this.repo.name }, `promoter: ${o.message}`);
    else this.log.info({ repo: this.repo.name }, `promoter: ${o.message}`);
  }
}
