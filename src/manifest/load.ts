// The manifest stage: fleet repo (git objects or a directory) + device identity -> DesiredState.
// Every file is read and validated before anything is returned; any problem rejects the repo.

import type { DesiredApp, DesiredState, DeviceIdentity, StateScript } from '../model/index.js';
import { findCycleInOrder } from './order-rules.js';
import { emptyConstraints, loadConstraints } from './constraints.js';
import { dotEnv, loadComposeApp, type ServiceOverrides } from './compose/index.js';
import { LoadContext, type At } from './context.js';
import { exampleIdentity, findTarget, FLEET_FILE, type FleetDoc } from './fleet.js';
import { emptyHealth, loadHealth } from './health.js';
import type { GatewayPolicy } from './policy.js';
import { loadStateScripts } from './state-scripts.js';
import { CREDENTIALS_IN_URL, hasCredentials } from '../base/url.js';
import { artifactDirs, type ComponentOverrides } from './artifact-source.js';
import { loadComponents } from './mender.js';
import { FleetRepoError, formatProblem, Problems, type Problem } from './problems.js';
import type { RepoSource } from './source.js';
import { resolveFleetRollout } from './rollout.js';
import { windowIssues } from './window.js';
import type { FleetRollout } from '../model/rollout.js';
import type { YamlFile } from './yaml-file.js';

async function loadFleet(ctx: LoadContext): Promise<YamlFile | undefined> {
  const y = await ctx.yaml(undefined, FLEET_FILE, 'fleet', 'fleet file');
  if (!y) return undefined;
  const fleet = y.value as FleetDoc;
  const names = new Map<string, number>();
  fleet.targets.forEach((t, i) => {
    if (names.has(t.name))
      ctx.at(
        { y, path: ['targets', i, 'name'] },
        `target name "${t.name}" is used twice (first at targets[${names.get(t.name)}])`,
      );
    names.set(t.name, i);
    if (!(t.system in fleet.systems))
      ctx.at(
        { y, path: ['targets', i, 'system'] },
        `target "${t.name}" names system "${t.system}", which is not under "systems" ` +
          `(defined: ${Object.keys(fleet.systems).join(', ')})`,
      );
  });
  for (const issue of [...resolveFleetRollout(fleet).issues, ...windowIssues(fleet)])
    ctx.at({ y, path: issue.path }, issue.message, issue.which);
  return y;
}

/**
 * The fleet file alone, validated, with its rollout policies resolved (for `rollgate rollout`, which needs
 * no system of it); throws FleetRepoError naming every problem.
 */
export async function readFleet(source: RepoSource): Promise<{ fleet: FleetDoc; rollout: FleetRollout }> {
  const problems = new Problems();
  const fleetY = await loadFleet(new LoadContext(source, problems));
  problems.bail();
  const fleet = fleetY!.value as FleetDoc;
  return { fleet, rollout: resolveFleetRollout(fleet).rollout };
}

export interface LoadOptions {
  /**
   * The gateway's own variables (its variables file, `--var`): the highest layer for ${VAR} in
   * Compose files, over the fleet target's `variables:` and the `.env` beside each Compose file.
   * They may be secrets: no problem or warning quotes them (it names the variable instead), and
   * services say which environment values came from them (`secretEnvironment`).
   */
  variables?: Record<string, string>;
  /**
   * The gateway's policy: what the commit asks for beyond it is a problem naming the rule. Absent:
   * everything is allowed; present: what reaches the host is refused unless a rule allows it.
   */
  policy?: GatewayPolicy;
  /** The gateway's state directory: a health command there (a file of the fleet repo) is refused. */
  stateDir?: string;
}

async function loadSystem(
  ctx: LoadContext,
  fleetY: YamlFile,
  targetIndex: number,
  device: DeviceIdentity,
  opts: LoadOptions,
): Promise<DesiredState | undefined> {
  const fleet = fleetY.value as FleetDoc;
  const target = fleet.targets[targetIndex]!;
  const files = fleet.systems[target.system];
  if (!files) return undefined;
  const sysAt = (k: string, ...rest: (string | number)[]): At => ({
    y: fleetY,
    path: ['systems', target.system, k, ...rest],
  });
  const ovAt = (...rest: (string | number)[]): At => ({
    y: fleetY,
    path: ['targets', targetIndex, 'overrides', ...rest],
  });
  const before = ctx.problems.count;

  const componentOverrides: ComponentOverrides = new Map(
    Object.entries(target.overrides?.component_types ?? {}).map(([type, fields]) => [
      type,
      { fields, at: ovAt('component_types', type) },
    ]),
  );
  let components: DesiredState['components'] = [];
  const beforeComponents = ctx.problems.count;
  if (files.manifest) {
    const mPath = ctx.resolve(sysAt('manifest'), files.manifest);
    const tPath = files.topology ? ctx.resolve(sysAt('topology'), files.topology) : undefined;
    if (fleet.artifact_store && hasCredentials(fleet.artifact_store))
      ctx.at({ y: fleetY, path: ['artifact_store'] }, `artifact_store ${CREDENTIALS_IN_URL}; use a token file`);
    const lookup = {
      dirs: artifactDirs(ctx, sysAt('artifacts'), files.artifacts),
      ...(fleet.artifact_store ? { store: fleet.artifact_store } : {}),
    };
    if (mPath)
      components = await loadComponents(ctx, {
        manifestAt: sysAt('manifest'),
        manifestPath: mPath,
        ...(tPath ? { topology: { at: sysAt('topology'), path: tPath } } : {}),
        overrides: componentOverrides,
        lookup,
        system: target.system,
      });
  } else {
    if (files.topology)
      ctx.at(sysAt('topology'), `a topology without a manifest: set "manifest" for system "${target.system}"`);
    for (const [, o] of componentOverrides)
      ctx.at(o.at, `override for a component type, but system "${target.system}" has no manifest`, 'key');
  }

  const componentsOk = ctx.problems.count === beforeComponents;
  const beforeApps = ctx.problems.count;
  const apps: DesiredApp[] = [];
  const warnings: string[] = [];
  const targetVars = new Map(Object.entries(target.variables ?? {}).map(([k, v]) => [k, String(v)]));
  const appOverrides = target.overrides?.apps ?? {};
  for (const name of Object.keys(appOverrides)) {
    if (!files.apps?.[name])
      ctx.at(ovAt('apps', name), `override for app "${name}", which system "${target.system}" does not run`, 'key');
  }
  for (const [name, file] of Object.entries(files.apps ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    const p = ctx.resolve(sysAt('apps', name), file);
    if (!p) continue;
    const y = await ctx.parse(sysAt('apps', name), p, 'compose file');
    if (!y) continue;
    const overrides: ServiceOverrides = new Map(
      Object.entries(appOverrides[name]?.services ?? {}).map(([svc, fields]) => [
        svc,
        { fields, at: ovAt('apps', name, 'services', svc) },
      ]),
    );
    const variables = await dotEnv(ctx, p, new Map([...targetVars, ...Object.entries(opts.variables ?? {})]));
    const app = await loadComposeApp(ctx, name, y, { variables, overrides, warn: (m) => warnings.push(m) });
    if (app) apps.push(app);
  }

  // Checks that refer to components or apps are skipped when those failed to load: the
  // problems that matter are already reported, and follow-on noise would bury them.
  const appsOk = ctx.problems.count === beforeApps;
  let health = emptyHealth();
  if (files.health) {
    const p = ctx.resolve(sysAt('health'), files.health);
    const y = p ? await ctx.yaml(sysAt('health'), p, 'health', 'health file') : undefined;
    if (y && appsOk) health = loadHealth(ctx, y, apps);
  }
  let constraints = emptyConstraints();
  if (files.constraints) {
    const p = ctx.resolve(sysAt('constraints'), files.constraints);
    const y = p ? await ctx.yaml(sysAt('constraints'), p, 'constraints', 'constraints file') : undefined;
    if (y && componentsOk) {
      constraints = loadConstraints(ctx, y, components);
      const cycle = findCycleInOrder(constraints.order);
      if (cycle) ctx.at({ y, path: ['order'] }, `order rules form a cycle: ${cycle.join(' -> ')}`);
    }
  }
  let stateScripts: StateScript[] = [];
  if (files.state_scripts) {
    const dir = ctx.resolve(sysAt('state_scripts'), files.state_scripts);
    if (dir) {
      stateScripts = await loadStateScripts(ctx, sysAt('state_scripts'), dir);
      // Scripts of the fleet repo, run as root on the host: under a policy, only when a rule says so.
      if (stateScripts.length && opts.policy && opts.policy.stateScripts !== true)
        ctx.breach(sysAt('state_scripts'), 'policy.stateScripts', 'state scripts are not run on this gateway');
    }
  }
  if (ctx.problems.count > before) return undefined;
  return {
    schema: 'rollgate.desired/v1',
    source: ctx.source.ref,
    device,
    target: target.name,
    system: target.system,
    components: components.sort((a, b) => a.order - b.order || a.key.localeCompare(b.key)),
    apps: apps.sort((a, b) => a.order - b.order || a.name.localeCompare(b.name)),
    health,
    constraints,
    ...(stateScripts.length ? { stateScripts } : {}),
    ...(warnings.length ? { warnings } : {}),
  };
}

/** Problems for one load, which never quote the gateway's own variables. */
function problemsFor(opts: LoadOptions): Problems {
  const problems = new Problems();
  for (const [k, v] of Object.entries(opts.variables ?? {})) problems.concealer.hide(k, v);
  return problems;
}

/** Each problem once; a file's problems in the order of its lines, files in the order they were read. */
function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const k = formatProblem(p);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  const fileOrder = new Map<string, number>();
  for (const p of unique) if (!fileOrder.has(p.file)) fileOrder.set(p.file, fileOrder.size);
  return unique
    .map((p, i) => ({ p, i }))
    .sort(
      (a, b) =>
        fileOrder.get(a.p.file)! - fileOrder.get(b.p.file)! ||
        (a.p.line ?? 0) - (b.p.line ?? 0) ||
        (a.p.column ?? 0) - (b.p.column ?? 0) ||
        a.i - b.i,
    )
    .map((x) => x.p);
}

/** The gateway's desired state; throws FleetRepoError naming every problem found. */
export async function loadDesiredState(
  source: RepoSource,
  device: DeviceIdentity,
  opts: LoadOptions = {},
): Promise<DesiredState> {
  const problems = problemsFor(opts);
  const ctx = new LoadContext(source, problems, opts.policy, opts.stateDir);
  const fleetY = await loadFleet(ctx);
  problems.bail();
  const fleet = fleetY!.value as FleetDoc;
  const idx = findTarget(fleet, device);
  if (idx < 0) {
    const labels =
      Object.entries(device.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ') || 'none';
    throw new FleetRepoError(
      [
        {
          file: FLEET_FILE,
          line: 1,
          column: 1,
          message:
            `no target matches gateway "${device.id}" (labels: ${labels}); ` +
            `targets: ${fleet.targets.map((t) => t.name).join(', ')}`,
        },
      ],
      'gateway.id, gateway.labels',
    );
  }
  const desired = await loadSystem(ctx, fleetY!, idx, device, opts);
  if (!desired) throw new FleetRepoError(dedupe(problems.list));
  const made = problems.concealer.interpolations();
  return made.length ? { ...desired, gatewayInterpolations: made } : desired;
}

export interface TargetValidation {
  target: string;
  system: string;
  device: DeviceIdentity;
  desired?: DesiredState;
}

/** Loads every target of the fleet repo (for the fleet repo's own CI); collects all problems. */
export async function validateFleetRepo(
  source: RepoSource,
  opts: LoadOptions = {},
): Promise<{ targets: TargetValidation[]; problems: Problem[] }> {
  const problems = problemsFor(opts);
  const fleetY = await loadFleet(new LoadContext(source, problems));
  if (!fleetY) return { targets: [], problems: problems.list };
  const fleet = fleetY.value as FleetDoc;
  const targets: TargetValidation[] = [];
  for (let i = 0; i < fleet.targets.length; i++) {
    const t = fleet.targets[i]!;
    const device = exampleIdentity(t);
    // A context per target: each one sees its files' problems itself (duplicates are merged below).
    const desired =
      t.system in fleet.systems
        ? await loadSystem(new LoadContext(source, problems, opts.policy, opts.stateDir), fleetY, i, device, opts)
        : undefined;
    targets.push({ target: t.name, system: t.system, device, ...(desired ? { desired } : {}) });
  }
  return { targets, problems: dedupe(problems.list) };
}
