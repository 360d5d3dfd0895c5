// The rollout page at fleet size, for bench/hub-pages.ts: a real fleet repo (fleet-repo-example with a
// four-wave policy) in which `rollgate rollout start` and two `promote --force` steps, signed with a key made
// here, opened three waves of a rollout; the database's gateways (all of them, labelled for the example's
// target) turned into its evidence: half on the target, healthy for two hours, one in a hundred of those
// rolled back, and a verdict event each for the timeline. Timed as the hub serves it: the fleet repo's
// snapshot (read once, as the hub's reader keeps it), the view (evidence, each wave's members and gate, the
// timeline) and the page.

import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey } from 'openpgp';
import { silentLog } from '../src/base/log.js';
import type { Database } from '../src/hub/index.js';
import { FleetRepoReader } from '../src/hub/fleet-repo.js';
import { renderRolloutPage } from '../src/hub/pages/rollouts.js';
import { rolloutEvidence } from '../src/hub/rollout-evidence.js';
import { rolloutView } from '../src/hub/rollout-view.js';
import { projectRoot } from '../test/helpers/fixtures.js';

const POLICY = `rollout:
  gate: { success_percent: 95, soak: 15m, timeout: 4h, on_timeout: pause, max_failures: 1000 }
  waves:
    - { name: canary, match: { labels: { ring: "0" } } }
    - { name: early, percent: 10 }
    - { name: half, percent: 50 }
    - { name: everyone, percent: 100 }
`;

export interface RolloutPageBench {
  render(): Promise<unknown>;
  /** The evidence alone: a row per gateway the hub knows, with its verdict on the target. */
  evidence(): Promise<unknown>;
  close(): Promise<void>;
}

export async function rolloutPageBench(db: Database): Promise<RolloutPageBench> {
  const dir = mkdtempSync(join(tmpdir(), 'rollgate-bench-rollout-'));
  const repo = join(dir, 'fleet');
  const env = { ...process.env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'b@example.com' };
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: repo,
      env: { ...env, GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'b@example.com' },
    })
      .toString()
      .trim();
  cpSync(join(projectRoot, 'fleet-repo-example'), repo, { recursive: true });
  const fleetFile = join(repo, 'rollgate.yaml');
  writeFileSync(fleetFile, readFileSync(fleetFile, 'utf8').replace(/\n# Staged rollout[^]*$/, `\n${POLICY}`));
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'system v1');
  const base = git('rev-parse', 'HEAD');
  writeFileSync(join(repo, 'NOTES.md'), 'v2\n');
  git('add', '-A');
  git('commit', '-q', '-m', 'system v2');
  const target = git('rev-parse', 'HEAD');

  const { privateKey } = await generateKey({
    type: 'ecc',
    curve: 'ed25519Legacy',
    userIDs: [{ name: 'Bench Promoter', email: 'promoter@example.com' }],
    format: 'armored',
  });
  const key = join(dir, 'promoter.key');
  writeFileSync(key, privateKey, { mode: 0o600 });
  const cli = join(projectRoot, 'dist/src/cli/main.js');
  const rollout = (...args: string[]) =>
    execFileSync(process.execPath, [cli, 'rollout', ...args, '--repo', repo, '--signing-key', key, '--by', 'bench'], {
      stdio: 'pipe',
    });
  rollout('start', '--target', target, '--base', base, '--id', 'bench', '--why', 'bench');
  rollout('promote', '--force', '--why', 'bench');
  rollout('promote', '--force', '--why', 'bench');

  await db.query(`insert into commits (sha, first_seen) values ($1, now() - interval '3 hours'), ($2, now())`, [
    base,
    target,
  ]);
  await db.query(
    `update gateways set labels = labels || '{"role":"gateway"}'::jsonb,
            status = jsonb_set(status, '{labels}', labels || '{"role":"gateway"}'::jsonb)`,
  );
  await db.query(
    `update gateways set applied_commit = $1, healthy = 'True', healthy_since = now() - interval '2 hours'
      where right(id, 1) in ('0', '2', '4', '6', '8')`,
    [target],
  );
  await db.query(
    `insert into gateway_commits (commit, gateway_id, outcome, verdict, reason, detail, at, received_at)
     select $1, id, case when right(id, 2) = '00' then 'rolled-back' else 'applied' end,
            case when right(id, 2) = '00' then 'rolled-back' else 'applied' end,
            case when right(id, 2) = '00' then 'health-failed' end, null, now() - interval '2 hours', now()
       from gateways where applied_commit = $1`,
    [target],
  );
  await db.query(
    `insert into events (gateway_id, event_id, kind, verdict, commit, at, body)
     select gateway_id, 'bench-' || gateway_id, 'verdict', verdict, $1, at, '{}'::jsonb
       from gateway_commits where commit = $1`,
    [target],
  );
  await db.query('analyze');

  const reader = new FleetRepoReader({ repo, ref: 'main', intervalMs: 3600_000 }, silentLog);
  await reader.refresh();
  const read = reader.read();
  const snap = read.snapshot;
  const r = snap?.rollouts.find((x) => x.current);
  if (!snap || !r) throw new Error(`the bench's fleet repo has no rollout: ${read.failed?.message ?? 'none read'}`);
  return {
    render: async () => renderRolloutPage(await rolloutView(db, snap, r), read, {}),
    evidence: () => rolloutEvidence(db, target),
    close: async () => {
      await reader.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
