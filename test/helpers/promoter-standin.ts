// A stand-in for the promoter (`rollgate rollout start|promote|pause|resume|abort|status`), with its
// CLI contract, until the real one is built: the fleet tests and the benchmark run it as a process
// through ./promoter.ts, which is the one place to switch to the real command. It does what the
// promoter is specified to do (README "Staged rollouts") with the project's own pure parts: it
// clones the fleet repo, reads rollgate-rollout.yaml and the target's policy, builds the hub's
// evidence about the open wave from the hub's API (times by the hub's clock: receipt times, never a
// gateway's own), evaluates the gate (src/rollout/gate.ts), writes the next state as one commit
// signed with --signing-key (gpg), and pushes it. Only the fleet's track is handled.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import type { FleetEvent, GatewayDetail, GatewaySummary, Page } from '../../src/hub/api-types.js';
import { DirectorySource, readFleet } from '../../src/manifest/index.js';
import type { GatewayEvidence, GateResult, RolloutState, RolloutStep, StepEvidence } from '../../src/model/rollout.js';
import {
  evaluateGate,
  exactThreshold,
  parseRolloutState,
  ROLLOUT_FILE,
  timeOf,
  waveOf,
} from '../../src/rollout/index.js';

const { values: o, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    repo: { type: 'string' },
    ref: { type: 'string', default: 'main' },
    target: { type: 'string' },
    base: { type: 'string' },
    id: { type: 'string' },
    'signing-key': { type: 'string' },
    by: { type: 'string' },
    why: { type: 'string' },
    hub: { type: 'string' },
    'hub-token-file': { type: 'string' },
    force: { type: 'boolean', default: false },
    output: { type: 'string', default: 'human' },
  },
});
const command = positionals[0] ?? '';
const work = mkdtempSync(join(tmpdir(), 'rollgate-promoter-'));
const tree = join(work, 'repo');
const gnupg = join(work, 'gnupg');

function fail(message: string, code = 1): never {
  process.stderr.write(`rollgate rollout ${command}: ${message}\n`);
  cleanup();
  process.exit(code);
}
function cleanup(): void {
  if (existsSync(gnupg))
    execFileSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: gnupg } });
  rmSync(work, { recursive: true, force: true });
}
const git = (...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=rollgate promoter', '-c', 'user.email=promoter@rollgate', ...args], {
    cwd: tree,
    env: { ...process.env, GNUPGHOME: gnupg },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
    .toString()
    .trim();
const need = (k: keyof typeof o): string => (o[k] as string | undefined) ?? fail(`--${k} is needed`);
const short = (c: string) => c.slice(0, 12);

function clone(): void {
  execFileSync('git', ['clone', '-q', '--single-branch', '-b', o.ref!, need('repo'), tree], { stdio: 'ignore' });
}

function current(): RolloutState | undefined {
  const f = join(tree, ROLLOUT_FILE);
  return existsSync(f) ? parseRolloutState(readFileSync(f)).state : undefined;
}

/** The fleet policy of the target commit's rollgate.yaml. */
async function policyOf(target: string) {
  const dir = join(work, 'target');
  execFileSync('git', ['-C', tree, 'worktree', 'add', '-q', '--detach', dir, target], { stdio: 'ignore' });
  const { rollout } = await readFleet(new DirectorySource(dir));
  if (!rollout.fleet) fail(`the target ${short(target)} has no rollout policy in rollgate.yaml`);
  return rollout.fleet;
}

const hubAuth = () => ({
  authorization: `Bearer ${readFileSync(need('hub-token-file'), 'utf8').trim()}`,
});

/** GET on the hub; the hub's clock from its Date header. */
async function hubGet<T>(path: string): Promise<{ body: T; now: number }> {
  let res: Response;
  try {
    res = await fetch(need('hub') + path, { headers: hubAuth(), signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    fail(`the hub at ${o.hub} cannot be reached (${(err as Error).message}): nothing written`);
  }
  if (!res.ok) fail(`the hub answered ${res.status} to ${path}: nothing written`);
  return { body: (await res.json()) as T, now: Date.parse(res.headers.get('date') ?? '') || Date.now() };
}

const FAILED = new Set(['rolled-back', 'rejected', 'rollback-failed', 'invalid', 'untrusted', 'forbidden']);

/** What the hub knows of every gateway, about this target, by the hub's clock. */
async function evidence(
  target: string,
): Promise<{ now: number; gateways: (GatewayEvidence & { labels: Record<string, string> })[] }> {
  const all: GatewaySummary[] = [];
  let after = '';
  let now = 0;
  for (;;) {
    const page = await hubGet<Page<GatewaySummary>>(`/api/v1/gateways?limit=1000${after ? `&after=${after}` : ''}`);
    now = page.now;
    all.push(...page.body.items);
    if (!page.body.next) break;
    after = page.body.next;
  }
  const gateways = [];
  for (let i = 0; i < all.length; i += 16) {
    const details = await Promise.all(
      all.slice(i, i + 16).map((g) => hubGet<GatewayDetail>(`/api/v1/gateways/${g.id}?history=50`).then((r) => r.body)),
    );
    for (const d of details) {
      const about = d.history.filter((e: FleetEvent) => e.kind === 'verdict' && e.commit === target);
      const failedOn = about.find((e) => FAILED.has(e.verdict ?? ''));
      const applied = about.find((e) => e.verdict === 'applied');
      const runs = d.applied === target;
      const healthy = runs && d.conditions.Healthy === 'True' && applied;
      gateways.push({
        id: d.id,
        labels: d.labels,
        ...(runs || failedOn ? { target } : {}),
        ...(d.lastSeen ? { lastSeen: Date.parse(d.lastSeen) } : {}),
        ...(healthy ? { healthySince: Date.parse(applied.receivedAt) } : {}),
        ...(failedOn
          ? {
              failed: { at: Date.parse(failedOn.receivedAt), reason: `${failedOn.verdict} (${failedOn.reason ?? ''})` },
            }
          : {}),
      });
    }
  }
  return { now, gateways };
}

/** The open wave's gate over the hub's evidence. */
async function gate(s: RolloutState) {
  const policy = await policyOf(s.target);
  const opened = s.waves.fleet;
  const index = opened.length - 1;
  const wave = policy.waves[index]!;
  const published = opened.map((w) => w.threshold);
  const ev = await evidence(s.target);
  const members = ev.gateways.filter((g) => waveOf(policy, g, s.salt, published).index === index);
  const last = opened[index]!;
  const result = evaluateGate({
    wave,
    target: s.target,
    openedAt: timeOf(last.opened),
    ...(last.resumed ? { resumedAt: timeOf(last.resumed) } : {}),
    members,
    known: ev.gateways.length,
    now: ev.now,
  });
  return { policy, index, wave, ev, result, published };
}

function evidenceOf(r: GateResult): StepEvidence {
  const { members, counted, healthy, soaking, applying, pending, silent, failed } = r.counts;
  return {
    decision: r.decision,
    cause: r.message,
    members,
    counted,
    healthy,
    soaking,
    applying,
    pending,
    silent,
    failed,
  };
}

/** Writes the state, commits it signed, and pushes it (never forced). */
function write(s: RolloutState, message: string): void {
  const doc = { apiVersion: 'rollgate/v1', kind: 'Rollout', ...s };
  writeFileSync(join(tree, ROLLOUT_FILE), stringify(doc, { lineWidth: 0 }));
  parseRolloutState(readFileSync(join(tree, ROLLOUT_FILE)));
  mkdirSync(gnupg, { mode: 0o700 });
  execFileSync('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--import', need('signing-key')], {
    env: { ...process.env, GNUPGHOME: gnupg },
    stdio: 'ignore',
  });
  const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(
    execFileSync('gpg', ['--batch', '--with-colons', '--list-secret-keys'], {
      env: { ...process.env, GNUPGHOME: gnupg },
    }).toString(),
  )![1]!;
  git('add', ROLLOUT_FILE);
  git('-c', `user.signingkey=${fpr}`, '-c', 'gpg.format=openpgp', 'commit', '-q', '-S', '-m', message);
  if (process.env['ROLLGATE_CRASH_AT'] === 'promote-push') process.kill(process.pid, 'SIGKILL');
  git('push', '-q', 'origin', `HEAD:${o.ref!}`);
  process.stdout.write(`${message}\npushed ${short(git('rev-parse', 'HEAD'))} to ${o.ref}\n`);
}

const now = () => new Date().toISOString();
const by = () => o.by ?? 'promoter@standin';

async function main(): Promise<number> {
  await Promise.resolve();
  if (!['start', 'promote', 'pause', 'resume', 'abort', 'status'].includes(command))
    fail(`unknown command "${command}"`);
  clone();
  const s = current();
  if (command === 'start') {
    if (s && (s.state === 'rolling' || s.state === 'paused'))
      fail(`rollout ${s.id} is ${s.state}: finish or abort it before starting another`);
    const target = git('rev-parse', '--verify', `${need('target')}^{commit}`);
    const base = git('rev-parse', '--verify', `${need('base')}^{commit}`);
    const bad = s?.bad ?? [];
    if (bad.some((b) => b.commit === target)) fail(`${short(target)} is a bad commit: never a target again`);
    await policyOf(target);
    const id = o.id ?? `rollout-${short(target)}`;
    const at = now();
    const next: RolloutState = {
      id,
      salt: randomBytes(4).toString('hex'),
      base,
      target,
      state: 'rolling',
      waves: { fleet: [{ opened: at }], targets: {} },
      bad,
      steps: [{ at, by: need('by'), action: 'start', why: need('why'), wave: 0 }],
    };
    write(next, `rollout ${id}: start, wave 1 opens (${need('why')})`);
    return 0;
  }
  if (!s) fail(`no rollout: ${ROLLOUT_FILE} is not at the head of ${o.ref}`);
  if (command === 'status') {
    const g = o.hub && s.state === 'rolling' ? (await gate(s)).result : undefined;
    if (o.output === 'json') process.stdout.write(JSON.stringify({ rollout: s, gate: g }, null, 2) + '\n');
    else {
      const last = s.steps.at(-1);
      process.stdout.write(
        `Rollout ${s.id} (${s.state}): base ${short(s.base)}, target ${short(s.target)}, ` +
          `${s.waves.fleet.length} waves open\n  last step: ${last?.action} by ${last?.by}: ${last?.why}\n` +
          (last?.evidence?.cause ? `  cause: ${last.evidence.cause}\n` : '') +
          (g ? `  gate: ${g.message}\n` : ''),
      );
    }
    return s.state === 'paused' || s.state === 'aborted' ? 3 : 0;
  }
  const step = (action: RolloutStep['action'], why: string, extra: Partial<RolloutStep> = {}): RolloutStep => ({
    at: now(),
    by: by(),
    action,
    why,
    wave: s.waves.fleet.length - 1,
    ...extra,
  });
  if (command === 'pause' || command === 'resume' || command === 'abort') {
    const why = need('why');
    need('by');
    if (s.state === 'aborted' || s.state === 'complete') fail(`rollout ${s.id} is ${s.state}`);
    if (command === 'pause') {
      if (s.state === 'paused') return 3;
      write({ ...s, state: 'paused', steps: [...s.steps, step('pause', why)] }, `rollout ${s.id}: paused (${why})`);
      return 3;
    }
    if (command === 'resume') {
      if (s.state !== 'paused') fail(`rollout ${s.id} is not paused`);
      const at = now();
      const waves = s.waves.fleet.map((w, i, all) => (i === all.length - 1 ? { ...w, resumed: at } : w));
      write(
        { ...s, state: 'rolling', waves: { ...s.waves, fleet: waves }, steps: [...s.steps, step('resume', why)] },
        `rollout ${s.id}: resumed (${why})`,
      );
      return 0;
    }
    write(
      {
        ...s,
        state: 'aborted',
        bad: [...s.bad, { commit: s.target, rollout: s.id, reason: why }],
        steps: [...s.steps, step('abort', why)],
      },
      `rollout ${s.id}: aborted (${why})`,
    );
    return 3;
  }
  // promote
  if (s.state === 'complete') {
    process.stdout.write(`rollout ${s.id} is complete: nothing to do\n`);
    return 0;
  }
  if (s.state !== 'rolling') {
    process.stdout.write(`rollout ${s.id} is ${s.state}: nothing to do until it is resumed\n`);
    return 3;
  }
  const g = await gate(s);
  const decision = o.force ? 'advance' : g.result.decision;
  const evidence = evidenceOf(g.result);
  if (decision === 'wait') {
    process.stdout.write(`${g.result.message}\n`);
    return 2;
  }
  if (decision === 'pause' || decision === 'abort') {
    const next: RolloutState =
      decision === 'pause'
        ? { ...s, state: 'paused', steps: [...s.steps, step('pause', g.result.message, { evidence })] }
        : {
            ...s,
            state: 'aborted',
            bad: [...s.bad, { commit: s.target, rollout: s.id, reason: g.result.message }],
            steps: [...s.steps, step('abort', g.result.message, { evidence })],
          };
    write(next, `rollout ${s.id}: ${decision === 'pause' ? 'paused' : 'aborted'}: ${g.result.message}`);
    return 3;
  }
  const why = o.force ? need('why') : g.result.message;
  if (g.index + 1 >= g.policy.waves.length) {
    write(
      { ...s, state: 'complete', steps: [...s.steps, step('complete', why, { evidence })] },
      `rollout ${s.id}: complete (${why})`,
    );
    return 0;
  }
  const nextIndex = g.index + 1;
  const nextWave = g.policy.waves[nextIndex]!;
  const threshold =
    nextWave.select.kind === 'percent' && nextWave.select.percent < 100
      ? exactThreshold(g.policy, nextIndex, g.ev.gateways, s.salt, g.published)
      : undefined;
  const opened = { opened: now(), ...(threshold !== undefined ? { threshold } : {}) };
  write(
    {
      ...s,
      waves: { ...s.waves, fleet: [...s.waves.fleet, opened] },
      steps: [...s.steps, step('open', why, { wave: nextIndex, evidence })],
    },
    `rollout ${s.id}: wave ${nextIndex + 1} "${nextWave.name}" opens (${why})`,
  );
  return 0;
}

main().then(
  (code) => {
    cleanup();
    process.exit(code);
  },
  (err: unknown) => fail((err as Error).stack ?? String(err)),
);
