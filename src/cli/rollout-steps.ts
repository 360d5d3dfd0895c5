// `rollgate rollout start | promote | pause | resume | abort`: each one step of the rollout, written
// as one signed commit (src/promoter), with exit codes a timer or CI acts on.

import { hostname } from 'node:os';
import { FleetRepoError, formatProblem } from '../manifest/index.js';
import type { RolloutExit } from '../model/rollout.js';
import {
  openPromoterRepo,
  operatorDecider,
  parseEvidence,
  promoteDecider,
  readSigner,
  runStep,
  startDecider,
  type BranchView,
  type OperatorAction,
  type PromoterRepo,
  type StepResult,
} from '../promoter/index.js';
import type { RolloutOutcome } from '../model/rollout.js';
import { EXIT_ERROR, EXIT_OK, repoSpec, type Io } from './commands.js';
import { terminalText } from './fleet-command.js';
import { hubClientOptions, hubRequest } from './hub-client.js';

export const EXIT_WAITS = 2;
export const EXIT_ATTENTION = 3;

const EXIT: Record<RolloutExit, number> = { ok: EXIT_OK, waits: EXIT_WAITS, attention: EXIT_ATTENTION };

export interface StepFlags {
  repo: string;
  ref: string;
  authTokenFile?: string;
  authBasicFile?: string;
  repoCaFile?: string;
  cacheDir?: string;
  depth: string;
  output: 'human' | 'json';
  signingKey?: string;
  signingPassphraseFile?: string;
  by?: string;
  why?: string;
}

export interface StartFlags extends StepFlags {
  target?: string;
  base?: string;
  id?: string;
}

export interface HubFlags {
  hub?: string;
  hubTokenFile?: string;
  caFile?: string;
}

export interface PromoteFlags extends StepFlags, HubFlags {
  force?: boolean;
}

const short = (c: string) => c.slice(0, 12);

function need<T>(value: T | undefined, flag: string, what: string): T {
  if (value === undefined || value === '') throw new Error(`${flag} is needed: ${what}`);
  return value;
}

export function openRepoOf(o: StepFlags): PromoterRepo {
  const spec = repoSpec({ ...o, ref: o.ref });
  return openPromoterRepo({
    repo: spec.repo,
    ref: o.ref,
    depth: spec.depth,
    ...(spec.auth ? { auth: spec.auth } : {}),
    ...(spec.cacheDir ? { cacheDir: spec.cacheDir } : {}),
    ...(spec.caFile !== undefined ? { caFile: spec.caFile } : {}),
  });
}

/** The hub's evidence about a rollout's target, over its API with a reader or admin token. */
export function hubEvidence(o: HubFlags) {
  const client = hubClientOptions({
    ...(o.hub !== undefined ? { hub: o.hub } : {}),
    ...(o.hubTokenFile !== undefined ? { tokenFile: o.hubTokenFile } : {}),
    ...(o.caFile !== undefined ? { caFile: o.caFile } : {}),
  });
  return async (id: string, target: string) =>
    parseEvidence(
      await hubRequest(client, 'GET', `/api/v1/rollouts/${encodeURIComponent(id)}/evidence?target=${target}`),
      target,
    );
}

function print(r: StepResult, o: StepFlags & { repo: string }, io: Io): number {
  const out = r.outcome;
  const exit = EXIT[out.exit];
  if (o.output === 'json') {
    const written = out.kind === 'write';
    const state = written ? out.state : undefined;
    io.out(
      JSON.stringify(
        {
          written,
          head: r.head,
          ...(r.commit ? { commit: r.commit } : {}),
          ...(written
            ? {
                title: out.title,
                step: out.step,
                rollout: { id: state!.id, state: state!.state, base: state!.base, target: state!.target },
              }
            : { message: out.message }),
          exit,
        },
        null,
        2,
      ) + '\n',
    );
    return exit;
  }
  if (out.kind === 'none') io.out(`${terminalText(out.message)}\n`);
  else {
    io.out(`${terminalText(out.title)}\n`);
    io.out(`  ${terminalText(out.step.why)}\n`);
    io.out(`  commit ${short(r.commit!)} on ${o.ref}, by ${terminalText(out.step.by)}, signed and pushed\n`);
  }
  return exit;
}

async function step(
  o: StepFlags,
  io: Io,
  decide: (repo: PromoterRepo) => (view: BranchView) => Promise<RolloutOutcome>,
): Promise<number> {
  const signer = await readSigner(
    need(o.signingKey, '--signing-key', 'the OpenPGP private key the commit is signed with'),
    o.signingPassphraseFile,
  );
  const repo = openRepoOf(o);
  try {
    const r = await runStep({
      repo,
      signer,
      decide: decide(repo),
      note: (line) => io.err(`${line}\n`),
    });
    return print(r, o, io);
  } finally {
    repo.close();
  }
}

export async function runRolloutStart(o: StartFlags, io: Io): Promise<number> {
  const target = need(o.target, '--target', 'the commit to roll out');
  const by = need(o.by, '--by', 'who starts the rollout (recorded in the step)');
  const why = need(o.why, '--why', 'why (recorded in the step and the commit message)');
  return step(o, io, (repo) =>
    startDecider(repo, {
      target,
      by,
      why,
      ...(o.base !== undefined ? { base: o.base } : {}),
      ...(o.id !== undefined ? { id: o.id } : {}),
    }),
  );
}

export async function runRolloutPromote(o: PromoteFlags, io: Io): Promise<number> {
  if (o.force && !o.why) throw new Error('--force takes --why: why the gate is overridden (recorded in the step)');
  if (o.why && !o.force) throw new Error('--why goes with --force; a promotion without it says why itself');
  const hub = o.hub ?? process.env['ROLLGATE_HUB_URL'];
  // Only a forced step may go without the hub's evidence (recorded as such).
  const evidence = hub || !o.force ? hubEvidence(o) : undefined;
  const by = o.by ?? `promoter@${hostname()}`;
  return step(o, io, (repo) =>
    promoteDecider(repo, {
      by,
      ...(evidence ? { evidence } : {}),
      ...(o.force ? { force: { why: o.why! } } : {}),
    }),
  );
}

function operator(action: OperatorAction) {
  return (o: StepFlags, io: Io): Promise<number> => {
    const by = need(o.by, '--by', `who ${action}s the rollout (recorded in the step)`);
    const why = need(o.why, '--why', 'why (recorded in the step and the commit message)');
    return step(o, io, (repo) => operatorDecider(repo, action, { by, why }));
  };
}

export const runRolloutPause = operator('pause');
export const runRolloutResume = operator('resume');
export const runRolloutAbort = operator('abort');

/** Every error of these commands ends the same way: exit 1, and nothing was written. */
export function reportRolloutStepError(err: unknown, io: Io): number {
  if (err instanceof FleetRepoError) {
    io.err("error: the fleet repo's rollout files do not hold; nothing was written\n");
    for (const p of err.problems) io.err(`  ${terminalText(formatProblem(p))}\n`);
    return EXIT_ERROR;
  }
  if (err instanceof Error) {
    const message = err.message.replace(/\.$/, '');
    io.err(`error: ${terminalText(message)}${/nothing was written/.test(message) ? '' : '; nothing was written'}\n`);
    return EXIT_ERROR;
  }
  throw err;
}
