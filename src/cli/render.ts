// A plan for people: grouped by stage, +/~/-/! symbols, colour on a terminal. And the plan as
// both people and scripts are shown it, without what the gateway's own variables hold.

import type { Change, ChangeAction, DesiredState, Plan, ScriptAction, ScriptState, Step } from '../model/index.js';
import { targetName } from '../plan/index.js';
import { escapeRe, MIN_SECRET_LENGTH } from '../base/redact.js';
import { Concealer } from '../manifest/index.js';

/**
 * The plan for output: a string made from the gateway's own variables (an image, a hook's command)
 * is shown as the Compose file wrote it (`registry.example.com/app:${TAG}`), and any other that
 * holds one of their values names the variable. The plan that runs is not changed.
 */
export function presentPlan(plan: Plan, desired: DesiredState, variables: Readonly<Record<string, string>>): Plan {
  const made = new Map((desired.gatewayInterpolations ?? []).map((i) => [i.value, i.written]));
  const concealer = new Concealer();
  for (const [k, v] of Object.entries(variables)) concealer.hide(k, v);
  // Inside a longer string (a step id names its image) only a value long enough to tell apart is replaced.
  const inside = [...made.keys()].filter((v) => v.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  const re = inside.length ? new RegExp(inside.map(escapeRe).join('|'), 'g') : undefined;
  const show = (s: string) => made.get(s) ?? concealer.conceal(re ? s.replace(re, (m) => made.get(m) ?? m) : s);
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return show(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(plan) as Plan;
}

const REBOOT_IF_ASKED = 'reboot if its interface asks';

const SYMBOL: Record<ChangeAction, string> = { add: '+', change: '~', remove: '-', repair: '!' };
const COLOUR: Record<ChangeAction, number> = { add: 32, change: 33, remove: 31, repair: 36 };

export interface RenderOptions {
  colour: boolean;
}

function paint(on: boolean, code: number, s: string): string {
  return on ? `\x1b[${code}m${s}\x1b[0m` : s;
}

function describeChange(c: Change, steps: Step[]): string {
  const t = c.target;
  const what =
    t.kind === 'component'
      ? `component ${t.key} (${t.type})`
      : t.kind === 'service'
        ? `service ${t.app}/${t.service}`
        : t.kind === 'image'
          ? `image ${t.ref}`
          : t.kind === 'files'
            ? `files ${t.app}/${t.hash.slice(0, 12)}`
            : `${t.kind} ${t.app}/${t.name}`;
  const versions =
    c.from !== undefined || c.to !== undefined
      ? `  ${c.from ?? ''}${c.from !== undefined && c.to !== undefined ? ' → ' : ''}${c.to ?? ''}`
      : '';
  const kinds = [...new Set(steps.filter((s) => targetName(s.target) === targetName(t)).map((s) => s.kind))];
  // The interface says whether it reboots only after its install (NeedsArtifactReboot): a plan cannot know.
  const how = kinds.length > 0 ? `  [${kinds.map((k) => (k === 'reboot' ? REBOOT_IF_ASKED : k)).join(' → ')}]` : '';
  return `${what}${versions}${how}  (${c.reason})`;
}

export function renderPlan(plan: Plan, opts: RenderOptions): string {
  const out: string[] = [];
  const p = (code: number, s: string) => paint(opts.colour, code, s);
  const d = plan.desired;
  const src = d.source.commit ? `commit ${d.source.commit.slice(0, 12)}` : `working tree ${d.source.path}`;
  out.push(p(1, `Gateway ${d.device.id}`) + ` · target ${d.target} · system ${d.system}`);
  out.push(`  desired: ${src}`);
  out.push(`  against: ${plan.against}`);
  out.push('');
  if (plan.changes.length === 0) {
    out.push(p(32, 'No changes.') + ' The gateway already runs this state.');
    return out.join('\n') + '\n';
  }
  const line = (c: Change, steps: Step[]) => `  ${p(COLOUR[c.action], SYMBOL[c.action])} ${describeChange(c, steps)}`;
  /** The state scripts of a state and action, as one line where they run; nothing when there are none. */
  const scripts = (state: ScriptState, action: ScriptAction, note = '') => {
    const names = (plan.stateScripts ?? []).filter((s) => s.state === state && s.action === action).map((s) => s.name);
    if (names.length) out.push(`  ${p(35, '§')} state scripts ${state}_${action}${note}: ${names.join(', ')}`);
  };
  const shown = new Set<Change>();
  if (plan.prepare.length > 0) {
    out.push(p(1, 'Prepare') + ' — fetched before anything running is touched');
    scripts('Download', 'Enter');
    for (const s of plan.prepare) {
      const t = s.target;
      const what =
        t.kind === 'image'
          ? `pull      ${t.ref}${s.platform ? ` (${s.platform})` : ''}`
          : t.kind === 'files'
            ? `write     ${t.app} files ${t.hash.slice(0, 12)} from the fleet repo (${s.to ?? ''})`
            : `download  ${s.to} for ${t.kind === 'component' ? t.key : ''} ` +
              `(${s.artifact?.kind === 'url' ? s.artifact.url : s.artifact?.path})`;
      out.push(`  ${p(36, '↓')} ${what}`);
    }
    scripts('Download', 'Leave');
    out.push('');
  }
  if (plan.order) out.push(`${p(1, 'Order:')} ${plan.order.reason}`, '');
  if (plan.stages.length > 0) scripts('ArtifactInstall', 'Enter');
  for (const stage of plan.stages) {
    out.push(
      p(1, stage.name === 'remove' ? 'Remove apps no longer desired' : stage.name.replace(/^group/, 'Order group')),
    );
    const names = new Set(stage.steps.map((s) => targetName(s.target)));
    for (const c of plan.changes) {
      if (shown.has(c) || !names.has(targetName(c.target))) continue;
      shown.add(c);
      out.push(line(c, stage.steps));
      for (const s of stage.steps)
        if (targetName(s.target) === targetName(c.target))
          for (const h of s.hooks ?? []) out.push(`      ${p(35, '↳')} ${h}`);
    }
    out.push('');
  }
  if (plan.stages.length > 0) {
    scripts('Apps', 'Enter', ' (before the first container changes)');
    scripts('Apps', 'Leave', ' (when containers changed)');
    scripts('ArtifactReboot', 'Enter', ' (when a component reboots)');
    scripts('ArtifactReboot', 'Leave', ' (when a component reboots)');
    scripts('ArtifactInstall', 'Leave');
    scripts('Health', 'Enter');
    scripts('Health', 'Leave');
  }
  const commits = plan.finalize.filter((s) => s.kind === 'commit');
  const rest = plan.changes.filter((c) => !shown.has(c));
  if (commits.length > 0 || rest.length > 0 || plan.stateScripts?.some((s) => s.state === 'ArtifactCommit')) {
    out.push(p(1, 'Finalize') + ' — after the health window passes');
    scripts('ArtifactCommit', 'Enter');
    const ascending = !plan.order || plan.order.chosen === 'declared';
    if (commits.length > 0)
      out.push(
        `  ${p(32, '✓')} ` +
          `commit ${commits.map((s) => (s.target.kind === 'component' ? s.target.key : '')).join(', ')} ` +
          `(${ascending ? 'ascending order groups' : 'in the order of the stages'})`,
      );
    const removals = plan.finalize.filter(
      (s) =>
        s.kind === 'remove' &&
        plan.changes.every((c) => c.action !== 'remove' || targetName(c.target) !== targetName(s.target)),
    );
    if (removals.length > 0)
      out.push(
        `  ${p(31, '-')} remove the replaced ` +
          `containers: ${removals.map((s) => targetName(s.target).replace(/^service\//, '')).join(', ')}`,
      );
    for (const c of rest) out.push(line(c, plan.finalize));
    scripts('ArtifactCommit', 'Leave');
    out.push('');
  }
  if (plan.rollback.length > 1) out.push(`Rollback order if anything fails: ${plan.rollback.join(' → ')}`);
  const back = (plan.stateScripts ?? []).filter(
    (s) => s.action === 'Error' || s.state === 'ArtifactRollback' || s.state === 'ArtifactFailure',
  );
  if (back.length) out.push(`State scripts if anything fails: ${back.map((s) => s.name).join(', ')}`);
  const count = (a: ChangeAction) => plan.changes.filter((c) => c.action === a).length;
  const unchanged = plan.unchanged.components.length + plan.unchanged.services.length;
  out.push(
    `${p(1, 'Plan:')} ${count('add')} to add, ${count('change')} to change, ${count('remove')} to ` +
      `remove, ${count('repair')} to repair; ${unchanged} unchanged` +
      (unchanged > 0 ? ` (${[...plan.unchanged.components, ...plan.unchanged.services].join(', ')})` : '') +
      '.',
  );
  return out.join('\n') + '\n';
}
