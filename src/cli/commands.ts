// `rollgate diff` and `rollgate validate`: what they do, apart from argument parsing.

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { emptyObservedState, planHasChanges, type ObservedState, type Plan } from '../model/index.js';
import { observedFromDesired, plan as makePlan, PlanError } from '../plan/index.js';
import {
  GitObjectSource,
  loadDesiredState,
  validateFleetRepo,
  FleetRepoError,
  formatProblem,
  type Problem,
  type LoadOptions,
  type RepoSource,
} from '../manifest/index.js';
import { readPolicyFile } from '../agent/config.js';
import { allowPublic } from '../agent/redaction.js';
import {
  checkCommit,
  commitShape,
  descendsFrom,
  NO_KEYS,
  readDecryptionKeys,
  readTrustedKeys,
  signedBy,
  TrustError,
} from '../trust/index.js';
import { DecryptingSource } from '../gateway/decrypting-source.js';
import { shortCommit } from '../base/short-commit.js';
import { SyncError, type GitAuth } from '../sync/index.js';
import { silentLog } from '../base/log.js';
import { DEFAULT_STATE_DIR } from '../base/state-dir.js';
import { Gateway, readVariables, type GatewayOptions } from '../gateway/gateway.js';
import { parseIdentity } from './identity.js';
import { openRepo } from './open-repo.js';
import { presentPlan, renderPlan } from './render.js';
import { EXIT_CHANGES, EXIT_ERROR, EXIT_OK, type Io } from './io.js';

export { EXIT_CHANGES, EXIT_ERROR, EXIT_OK, type Io };

export interface RepoOptions {
  repo: string;
  ref?: string;
  /** commander's attributes of --auth-token-file and --auth-basic-file. */
  authTokenFile?: string;
  authBasicFile?: string;
  /** --repo-ca-file: CAs trusted for the git server besides the defaults. */
  repoCaFile?: string;
  cacheDir?: string;
  depth: string;
  trustedKeys?: string[];
  promoterKeys?: string[];
  trustMode?: 'head' | 'tag';
}

function auth(o: RepoOptions): GitAuth | undefined {
  if (o.authTokenFile && o.authBasicFile) throw new Error('give one of --auth-token-file and --auth-basic-file');
  if (o.authTokenFile) return { kind: 'token', file: o.authTokenFile };
  if (o.authBasicFile) return { kind: 'basic', file: o.authBasicFile };
  return undefined;
}

export function repoSpec(o: RepoOptions) {
  const depth = Number(o.depth);
  if (!Number.isInteger(depth) || depth < 1)
    throw new Error(`--depth takes a whole number of commits, got "${o.depth}"`);
  const a = auth(o);
  if (o.repoCaFile !== undefined && !o.repo.startsWith('https://'))
    throw new Error(`--repo-ca-file is for a git server at an https URL, not ${o.repo}`);
  return {
    repo: o.repo,
    depth,
    ...(a ? { auth: a } : {}),
    ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
    ...(o.repoCaFile !== undefined ? { caFile: o.repoCaFile } : {}),
  };
}

/**
 * With --trusted-keys, the commit read must be signed as the agent would require (the fleet repo's
 * CI checks what gateways will accept); the working tree has no signature to check. With
 * --promoter-keys too, a head those keys sign passes only as a rollout step, judged by the agent's
 * own trust gate.
 */
export async function verifySource(source: RepoSource, o: RepoOptions, io: Io): Promise<void> {
  if (o.promoterKeys?.length && !o.trustedKeys?.length)
    throw new Error(
      '--promoter-keys narrows what --trusted-keys accept: give the release keys with --trusted-keys too',
    );
  if (!o.trustedKeys?.length) return;
  if (!(source instanceof GitObjectSource))
    throw new Error('--trusted-keys checks the signature of a commit: give one with --ref (the working tree has none)');
  const keys = await readTrustedKeys(o.trustedKeys);
  const verify = (commit: string) =>
    checkCommit(source.gitdir, commit, undefined, {
      policy: { keys, mode: o.trustMode ?? 'head' },
      allowRewrite: true,
    });
  if (!o.promoterKeys?.length) {
    io.err(`trusted: commit ${shortCommit(source.commit)} is signed by ${await verify(source.commit)}\n`);
    return;
  }
  const promoterKeys = await readTrustedKeys(o.promoterKeys);
  const { judgeTrust } = await import('../lifecycle/index.js');
  const { readRolloutState } = await import('../rollout/index.js');
  const answer = await judgeTrust(source.commit, {
    verify,
    promoterSigner: (commit) => signedBy(source.gitdir, commit, promoterKeys),
    commitShape: (commit) => commitShape(source.gitdir, commit),
    descends: (commit, ancestor) => descendsFrom(source.gitdir, commit, ancestor),
    rolloutState: (commit) => readRolloutState(new GitObjectSource(source.gitdir, commit)),
  });
  if (answer.kind === 'refuse') throw new TrustError(answer.bad === 'rewrite' ? 'rewrite' : 'untrusted', answer.reason);
  if (answer.kind === 'admit') io.err(`trusted: ${answer.note ?? `commit ${shortCommit(source.commit)}`}\n`);
}

/** Errors that users cause get their own message and exit 1; anything else is a bug and rethrown. */
export function reportError(err: unknown, io: Io): number {
  if (err instanceof FleetRepoError) {
    io.err(
      err.forbidden
        ? "error: the commit asks for more than the gateway's policy allows; nothing was planned\n"
        : 'error: the fleet repo is invalid; nothing was planned\n',
    );
    for (const p of err.problems) io.err(`  ${formatProblem(p)}\n`);
    return EXIT_ERROR;
  }
  if (err instanceof PlanError) {
    io.err(`error: no plan: ${err.message}\n`);
    return EXIT_ERROR;
  }
  if (err instanceof SyncError || err instanceof Error) {
    io.err(`error: ${err.message}\n`);
    return EXIT_ERROR;
  }
  throw err;
}

export interface VariableOptions {
  var?: string[];
  varFile?: string[];
  /** --policy-file: check the commit against a gateway's policy. */
  policyFile?: string;
  /**
   * The gateway's state directory (a health command there is refused): this, else the stateDir of
   * the agent's configuration given as --policy-file, else the default.
   */
  stateDir?: string;
  /** --decryption-key: files of keys that open SOPS-encrypted files. */
  decryptionKey?: string[];
}

/**
 * The fleet repo with its SOPS-encrypted files opened by the --decryption-key keys. Without a key,
 * `required` (apply) refuses an encrypted file; otherwise (validate, diff) its structure is checked.
 */
export async function decrypting(source: RepoSource, o: VariableOptions, required: boolean): Promise<DecryptingSource> {
  const files = o.decryptionKey ?? [];
  return new DecryptingSource(
    source,
    files.length ? await readDecryptionKeys(files, false) : required ? NO_KEYS : null,
  );
}

/** What could not be checked without a key, as warnings. */
export function uncheckedNotes(source: RepoSource): string[] {
  return source instanceof DecryptingSource ? [...source.notes] : [];
}

export async function loadOptions(o: VariableOptions): Promise<LoadOptions> {
  const gateway = o.policyFile ? await readPolicyFile(o.policyFile) : undefined;
  return {
    variables: await readVariables(o.varFile ?? [], o.var ?? []),
    stateDir: resolve(o.stateDir ?? gateway?.stateDir ?? DEFAULT_STATE_DIR),
    ...(gateway ? { policy: gateway.policy } : {}),
  };
}

export function printWarnings(io: Io, warnings: readonly string[] | undefined): void {
  for (const w of [...new Set(warnings ?? [])]) io.err(`warning: ${w}\n`);
}

export interface DiffOptions extends RepoOptions, GatewayOptions, VariableOptions {
  id?: string;
  label: string[];
  against: string;
  output: 'human' | 'json';
}

async function readObservation(path: string): Promise<ObservedState> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the observation file ${path}: ${(err as Error).message}`);
  }
  const o = data as Partial<ObservedState>;
  if (
    o?.schema !== 'rollgate.observed/v1' ||
    !Array.isArray(o.components) ||
    !Array.isArray(o.containers) ||
    !Array.isArray(o.images) ||
    !Array.isArray(o.networks) ||
    !Array.isArray(o.volumes)
  ) {
    throw new Error(
      `${path} is not a rollgate observation (expected "schema": "rollgate.observed/v1" with components, ` +
        `containers, networks, volumes, images)`,
    );
  }
  return { ...o, origin: `observation file ${path}` } as ObservedState;
}

export async function runDiff(o: DiffOptions, io: Io): Promise<number> {
  const device = parseIdentity(o.id, o.label);
  allowPublic(device);
  const repo = await openRepo(repoSpec(o));
  try {
    const source = await repo.source(o.ref);
    await verifySource(source, o, io);
    const opts = await loadOptions(o);
    const decrypted = await decrypting(source, o, false);
    const desired = await loadDesiredState(decrypted, device, opts);
    printWarnings(io, [...(desired.warnings ?? []), ...uncheckedNotes(decrypted)]);
    let observed: ObservedState;
    if (o.against === 'fresh') observed = emptyObservedState();
    else if (o.against.startsWith('commit:')) {
      const other = await decrypting(await repo.source(o.against.slice('commit:'.length)), o, false);
      observed = observedFromDesired(
        await loadDesiredState(other, device, opts),
        `${other.label} (as applied and healthy)`,
      );
    } else if (o.against.startsWith('file:')) observed = await readObservation(o.against.slice('file:'.length));
    else if (o.against === 'live') observed = await new Gateway(o, silentLog).observe(desired);
    else throw new Error(`--against takes fresh, live, commit:<rev> or file:<path>, got "${o.against}"`);
    const plan: Plan = makePlan(desired, observed);
    const shown = presentPlan(plan, desired, opts.variables ?? {});
    io.out(o.output === 'json' ? JSON.stringify(shown, null, 2) + '\n' : renderPlan(shown, { colour: io.colour }));
    return planHasChanges(plan) ? EXIT_CHANGES : EXIT_OK;
  } finally {
    repo.close();
  }
}

export interface ValidateOptions extends RepoOptions, VariableOptions {
  output: 'human' | 'json';
}

export async function runValidate(o: ValidateOptions, io: Io): Promise<number> {
  const repo = await openRepo(repoSpec(o));
  try {
    const source = await decrypting(await repo.source(o.ref), o, false);
    await verifySource(source.inner, o, io);
    const { targets, problems } = await validateFleetRepo(source, await loadOptions(o));
    const unchecked = uncheckedNotes(source);
    printWarnings(io, [...targets.flatMap((t) => t.desired?.warnings ?? []), ...unchecked]);
    const planProblems: Problem[] = [];
    const results = targets.map((t) => {
      if (!t.desired) return { target: t.target, system: t.system, ok: false };
      try {
        const p = makePlan(t.desired, emptyObservedState());
        return {
          target: t.target,
          system: t.system,
          ok: true,
          components: t.desired.components.length,
          apps: t.desired.apps.length,
          services: t.desired.apps.reduce((n, a) => n + a.services.length, 0),
          healthChecks: t.desired.health.checks.length,
          steps: p.prepare.length + p.stages.reduce((n, s) => n + s.steps.length, 0) + p.finalize.length,
        };
      } catch (err) {
        if (!(err instanceof PlanError)) throw err;
        planProblems.push({ file: `target ${t.target}`, message: `does not plan: ${err.message}` });
        return { target: t.target, system: t.system, ok: false };
      }
    });
    const all = [...problems, ...planProblems];
    const ok = all.length === 0 && results.every((r) => r.ok);
    if (o.output === 'json')
      io.out(JSON.stringify({ ok, source: source.label, targets: results, problems: all, unchecked }, null, 2) + '\n');
    else {
      io.out(`Validating ${source.label}\n`);
      for (const r of results) {
        io.out(
          r.ok
            ? `  ✓ ${r.target} → ${r.system}: ${r.components} components, ${r.apps} apps, ${r.services} ` +
                `services, ${r.healthChecks} health checks\n`
            : `  ✗ ${r.target} → ${r.system}\n`,
        );
      }
      for (const p of all) io.err(`  ${formatProblem(p)}\n`);
      io.out(
        ok
          ? `OK: ${results.length} target${results.length === 1 ? '' : 's'} valid.\n`
          : `FAILED: ${all.length} problem${all.length === 1 ? '' : 's'}.\n`,
      );
    }
    return ok ? EXIT_OK : EXIT_ERROR;
  } finally {
    repo.close();
  }
}
