// The fleet repo as the hub reads it (`rollgate hub --repo`), read-only: the branch's head, the recent
// commits with subject, author, date and signer (verified against --repo-trusted-keys as gateways
// verify them), and every rollout the recent history holds with the commit that wrote each step. It
// is read in the background with the agent's own sync code and kept per head: a page view never
// fetches. A read that fails keeps the last good snapshot and says what failed and when.

import * as fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import git from 'isomorphic-git';
import type { Log } from '../base/log.js';
import type { RolloutState } from '../model/rollout.js';
import { openPromoterRepo, readRolloutState, type PromoterRepo } from '../promoter/index.js';
import { readTrustedKeys, splitSigned, checkSignature, type TrustedKeys } from '../trust/index.js';
import type { GitAuth } from '../sync/index.js';
import { Rounds } from './rounds.js';
import { shortCommit } from '../base/short-commit.js';

export interface FleetRepoSpec {
  /** An http(s) URL or a local git repository. */
  repo: string;
  ref: string;
  auth?: GitAuth;
  /** PEM certificates of CAs to trust for an https repository, besides the defaults (a private CA). */
  caFile?: string;
  /** Key files (OpenPGP or allowed_signers) commits are verified with, as the agent's trust.keys. */
  trustedKeys?: string[];
  /** How often the head is polled (default 30 s). */
  intervalMs?: number;
  /** Commits read back from the head (default 100). */
  depth?: number;
}

export interface RepoCommit {
  commit: string;
  subject: string;
  author: string;
  /** ISO 8601, the author's date. */
  date: string;
  /** Whether it carries a signature, and what checking it said. */
  signed: boolean;
  /** The trusted signer, when it verified. */
  signer?: string;
  /** Why it does not verify (or that no keys were given). */
  unverified?: string;
}

/** One rollout as the history holds it: its state at the newest commit that has it, each step's commit. */
export interface RepoRollout {
  state: RolloutState;
  /** The commit whose rollgate-rollout.yaml holds this state. */
  at: string;
  /** For each step (same order as state.steps), the commit that wrote it, when it is in the history read. */
  stepCommits: (string | undefined)[];
  /** Whether it is the rollout at the branch's head. */
  current: boolean;
}

export interface RepoSnapshot {
  repo: string;
  ref: string;
  head: string;
  /** Where its objects are (not shown). */
  gitdir: string;
  /** When this head was read (ms, the hub's clock). */
  readAt: number;
  /** Newest first, the head's first-parent history. */
  commits: RepoCommit[];
  /** Newest first. */
  rollouts: RepoRollout[];
}

export interface RepoRead {
  snapshot?: RepoSnapshot;
  /** The last read that failed, when it is newer than the snapshot. */
  failed?: { at: number; message: string };
}

export class FleetRepoReader {
  private readonly cache = mkdtempSync(join(tmpdir(), 'rollgate-hub-repo-'));
  private readonly repo: PromoterRepo;
  private keys: TrustedKeys | undefined;
  private snapshot: RepoSnapshot | undefined;
  private failed: { at: number; message: string } | undefined;
  private readonly rounds: Rounds;

  constructor(
    private readonly spec: FleetRepoSpec,
    private readonly log: Log,
  ) {
    this.repo = openPromoterRepo({
      repo: spec.repo,
      ref: spec.ref,
      depth: spec.depth ?? 100,
      cacheDir: this.cache,
      ...(spec.auth ? { auth: spec.auth } : {}),
      ...(spec.caFile !== undefined ? { caFile: spec.caFile } : {}),
    });
    this.rounds = new Rounds(() => this.refresh(), spec.intervalMs ?? 30_000);
  }

  get name(): string {
    return this.repo.name;
  }

  /** What the last reads gave. Never fetches. */
  read(): RepoRead {
    return { ...(this.snapshot ? { snapshot: this.snapshot } : {}), ...(this.failed ? { failed: this.failed } : {}) };
  }

  start(): void {
    this.rounds.start();
  }

  async stop(): Promise<void> {
    await this.rounds.stop();
    this.repo.close();
    rmSync(this.cache, { recursive: true, force: true });
  }

  /** Reads the head; reads its history only when the head moved. Public so a write can be seen at once. */
  async refresh(): Promise<void> {
    try {
      this.keys ??= this.spec.trustedKeys?.length ? await readTrustedKeys(this.spec.trustedKeys) : undefined;
      const head = await this.repo.head();
      if (this.snapshot?.head === head) {
        this.snapshot = { ...this.snapshot, readAt: Date.now() };
      } else {
        this.snapshot = await this.readAt(head);
        this.log.info({ repo: this.name, head }, `fleet repo: ${this.spec.ref} is at ${shortCommit(head)}`);
      }
      this.failed = undefined;
    } catch (err) {
      const message = (err as Error).message;
      if (this.failed?.message !== message)
        this.log.warn(
          { repo: this.name, err: message },
          `fleet repo: reading it failed (the page shows the last read): ${message}`,
        );
      this.failed = { at: Date.now(), message };
    }
  }

  private async readAt(head: string): Promise<RepoSnapshot> {
    const gitdir = this.repo.source(head).gitdir;
    const log = await git.log({ fs, gitdir, ref: head, depth: this.spec.depth ?? 100 });
    const commits: RepoCommit[] = [];
    for (const entry of log) commits.push(await this.describe(gitdir, entry.oid, entry.commit));
    return {
      repo: this.name,
      ref: this.spec.ref,
      head,
      gitdir,
      readAt: Date.now(),
      commits,
      rollouts: await this.rolloutsOf(commits.map((c) => c.commit)),
    };
  }

  private async describe(
    gitdir: string,
    oid: string,
    c: { message: string; author: { name: string; email: string; timestamp: number } },
  ): Promise<RepoCommit> {
    const base = {
      commit: oid,
      subject: c.message.split('\n')[0]!.slice(0, 300),
      author: `${c.author.name} <${c.author.email}>`,
      date: new Date(c.author.timestamp * 1000).toISOString(),
    };
    const o = await git.readObject({ fs, gitdir, oid, format: 'content' });
    const { payload, signature } = splitSigned(Buffer.from(o.object as Uint8Array), 'commit');
    if (!signature) return { ...base, signed: false, unverified: 'not signed' };
    if (!this.keys) return { ...base, signed: true, unverified: 'signed; the hub was given no --repo-trusted-keys' };
    const r = await checkSignature(payload, signature, this.keys);
    return r.ok ? { ...base, signed: true, signer: r.signer } : { ...base, signed: true, unverified: r.why };
  }

  /** Each rollout the history holds, oldest commit first, so each new step is put on the commit that added it. */
  private async rolloutsOf(newestFirst: string[]): Promise<RepoRollout[]> {
    const byId = new Map<string, RepoRollout>();
    let atHead: string | undefined;
    const oldestFirst = [...newestFirst].reverse();
    for (const [i, commit] of oldestFirst.entries()) {
      const parsed = await readRolloutState(this.repo, commit).catch(() => undefined);
      atHead = parsed?.state.id;
      if (!parsed) continue;
      const s = parsed.state;
      const had = byId.get(s.id);
      // Steps before the oldest commit read were written by commits the hub did not read.
      const from = had ? had.state.steps.length : i === 0 ? s.steps.length : 0;
      const stepCommits = s.steps.map((_, n) => (n < from ? had?.stepCommits[n] : commit));
      byId.delete(s.id);
      byId.set(s.id, { state: s, at: commit, stepCommits, current: false });
    }
    if (atHead) byId.get(atHead)!.current = true;
    return [...byId.values()].reverse();
  }
}
