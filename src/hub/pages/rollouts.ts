// The rollout pages: the list of rollouts the fleet repo's history holds, and one rollout — its waves
// with what the reports say, why it waits in one sentence, the signed steps with who and why, a
// server-rendered SVG of gateways on the target over time, and, for an admin on a hub with a
// promoter, the pause / resume / promote / abort forms; and the page of every gateway behind one of its
// failure reasons, which the rollout page lists only the first of. Every value goes through html`` (escaped).

import { html, hubPath, raw, type Html } from '../html.js';
import { layout, table } from '../page.js';
import type { RepoRead } from '../fleet-repo.js';
import type { FailureGroup, RolloutView, TrackView, WaveView } from '../rollout-view.js';
import type { RolloutAction } from '../rollout-actions.js';
import { shortCommit } from '../../base/short-commit.js';

const when = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');

const CSS = raw(`<style>
.state{padding:2px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600}
.st-rolling{background:#2563eb}.st-paused{background:#b7791f}
.st-aborted{background:#c62828}.st-complete{background:#2e7d32}
.why{font-size:15px;background:#fff;border-left:4px solid #2563eb;padding:8px 12px;margin:10px 0}
.repo-failed{background:#fdecea;border:1px solid #f5c2c0;padding:8px 12px;border-radius:4px}
.actions{display:flex;gap:12px;flex-wrap:wrap}
.actions form{background:#fff;border:1px solid #e3e6eb;padding:8px;border-radius:6px}
.actions input[name=why]{width:300px}
td.n{text-align:right;font-variant-numeric:tabular-nums}
</style>`);

/** Says how fresh the fleet repo's read is, and when the last read failed. */
export function repoStatus(r: RepoRead | undefined): Html {
  if (!r) return html`<p class="muted">The hub does not read the fleet repo: start it with <code>--repo</code>.</p>`;
  const head = r.snapshot
    ? html`<p class="muted" data-testid="repo-head">
        ${r.snapshot.repo} ${r.snapshot.ref} at <code>${shortCommit(r.snapshot.head)}</code>, read
        ${when(r.snapshot.readAt)}
      </p>`
    : '';
  const failed =
    r.failed &&
    html`<p class="repo-failed" role="alert" data-testid="repo-failed">
      Reading the fleet repo failed at ${when(r.failed.at)}: ${r.failed.message}.
      ${r.snapshot ? 'This page shows the last read.' : 'Nothing was read yet.'}
    </p>`;
  return html`${failed}${head}`;
}

function state(s: string): Html {
  return html`<span class="state st-${s}" data-testid="rollout-state">${s}</span>`;
}

export function renderRolloutList(read: RepoRead | undefined): string {
  const rows = (read?.snapshot?.rollouts ?? []).map((r) => {
    const s = r.state;
    return html`<tr data-rollout="${s.id}">
      <td><a href="${hubPath('rollouts', s.id)}">${s.id}</a>${r.current ? html` <b>(at the head)</b>` : ''}</td>
      <td>${state(s.state)}</td>
      <td><code>${shortCommit(s.base)}</code> → <code>${shortCommit(s.target)}</code></td>
      <td>${s.steps[0]?.at}</td>
      <td>${s.steps.at(-1)?.action} by ${s.steps.at(-1)?.by}: ${s.steps.at(-1)?.why}</td>
    </tr>`;
  });
  return layout(
    'Rollouts',
    html`${CSS}
      <h2>Rollouts</h2>
      ${repoStatus(read)}
      ${
        rows.length
          ? table('rollouts', ['rollout', 'state', 'base → target', 'started', 'last step'], rows)
          : html`<p class="muted">No rollout in the fleet repo's recent history.</p>`
      }`,
    { section: '/rollouts', self: '/rollouts' },
  );
}

/** The page that lists every gateway of a wave that failed for `reason`. */
function allFailedHref(id: string, track: string, wave: number, reason: string): string {
  return `${hubPath('rollouts', id, 'failed')}?${new URLSearchParams({ track, wave: String(wave), reason })}`;
}

function waveRow(id: string, track: string, w: WaveView): Html {
  const n = (k: keyof WaveView) =>
    html`<td class="n" data-testid="wave-${track}-${w.number}-${k}">${String(w[k])}</td>`;
  // Each reason lists its first gateways; a long list is one link away, so the page stays the same size.
  const failures = w.failures.length
    ? w.failures.map(
        (f) =>
          html`<details data-testid="failure-${track}-${w.number}">
            <summary>${f.count} × ${f.reason}</summary>
            ${f.gateways.map((g) => html`<a href="${hubPath('gateways', g)}">${g}</a> `)}
            ${
              f.count > f.gateways.length &&
              html`<a class="all" href="${allFailedHref(id, track, w.number, f.reason)}">all ${f.count} →</a>`
            }
          </details>`,
      )
    : '';
  return html`<tr data-wave="${w.number}">
    <td>${w.number} ${w.name}</td>
    <td>${w.selects}</td>
    <td>${w.open ? `open since ${w.opened}` : w.opened ? `opened ${w.opened}` : 'not open'}</td>
    ${n('members')}${n('admitted')}${n('healthy')}${n('soaking')}${n('applying')}${n('pending')}${n('silent')}
    ${n('failed')}
    <td>${failures}</td>
  </tr>`;
}

const WAVE_HEAD = [
  'wave',
  'gateways',
  '',
  'in wave',
  'admitted',
  'healthy for the soak',
  'soaking',
  'applying',
  'not on target',
  'not reporting',
  'failed',
  'failures by reason',
];

function trackSection(id: string, t: TrackView): Html {
  const gate =
    t.gate &&
    html`<p>
      Gate of wave ${t.gate.wave}: <b data-testid="gate-${t.track}-decision">${t.gate.decision}</b> —
      <span data-testid="gate-${t.track}-message">${t.gate.message}</span>
    </p>`;
  return html`<h2>Waves (${t.track} policy)</h2>
    ${table(
      `waves-${t.track}`,
      WAVE_HEAD,
      t.waves.map((w) => waveRow(id, t.track, w)),
    )}
    ${gate}`;
}

/** Gateways on the target (green) and on the base (grey) over time, as a stepped line. */
export function timelineSvg(v: RolloutView): Html {
  const pts = v.timeline;
  if (pts.length < 2) return html`<p class="muted">No gateway has reported a change since the rollout began.</p>`;
  const W = 720;
  const H = 160;
  const pad = 30;
  const t0 = pts[0]!.at;
  const t1 = Math.max(pts.at(-1)!.at, t0 + 1);
  const max = Math.max(1, v.gateways, ...pts.map((p) => Math.max(p.onTarget, p.onBase)));
  const x = (t: number) => (pad + ((t - t0) / (t1 - t0)) * (W - 2 * pad)).toFixed(1);
  const y = (n: number) => (H - pad - (n / max) * (H - 2 * pad)).toFixed(1);
  const line = (k: 'onTarget' | 'onBase') => {
    const out: string[] = [];
    pts.forEach((p, i) => {
      if (i > 0) out.push(`${x(p.at)},${y(pts[i - 1]![k])}`);
      out.push(`${x(p.at)},${y(p[k])}`);
    });
    return out.join(' ');
  };
  const last = pts.at(-1)!;
  const label =
    `${last.onTarget} of ${max} gateways on the target, ${last.onBase} on the base, ` +
    `from ${when(t0)} to ${when(t1)}`;
  return html`<svg
    id="timeline"
    role="img"
    aria-label="${label}"
    width="${W}"
    height="${H}"
    viewBox="0 0 ${W} ${H}"
    style="background:#fff;border:1px solid #e3e6eb"
  >
    <line x1="${pad}" y1="${H - pad}" x2="${W - pad}" y2="${H - pad}" stroke="#9aa3ae" />
    <line x1="${pad}" y1="${pad}" x2="${pad}" y2="${H - pad}" stroke="#9aa3ae" />
    <text x="4" y="${pad + 4}" font-size="11">${max}</text>
    <text x="4" y="${H - pad + 4}" font-size="11">0</text>
    <text x="${pad}" y="${H - 8}" font-size="11">${when(t0)}</text>
    <text x="${W - pad}" y="${H - 8}" font-size="11" text-anchor="end">${when(t1)}</text>
    <polyline fill="none" stroke="#9aa3ae" stroke-width="2" points="${line('onBase')}" />
    <polyline fill="none" stroke="#2e9d57" stroke-width="2.5" points="${line('onTarget')}" />
    <text x="${W - pad}" y="${pad - 10}" font-size="11" text-anchor="end" fill="#2e9d57">
      on target ${last.onTarget}
    </text>
    <text x="${W - pad - 110}" y="${pad - 10}" font-size="11" text-anchor="end" fill="#6b7280">
      on base ${last.onBase}
    </text>
  </svg>`;
}

/** What an admin may do to a rollout in each state. */
const ALLOWED: Record<RolloutView['state'], RolloutAction[]> = {
  rolling: ['pause', 'promote', 'abort'],
  paused: ['resume', 'promote', 'abort'],
  aborted: [],
  complete: [],
};

function actionForms(v: RolloutView, csrf: string): Html {
  const forms = ALLOWED[v.state].map(
    (a) =>
      html`<form method="post" action="${hubPath('rollouts', v.id, a)}" data-action="${a}">
        <input type="hidden" name="csrf" value="${csrf}" />
        <input name="why" required maxlength="2000" placeholder="reason, recorded in the signed commit" />
        <button type="submit">${a[0]!.toUpperCase() + a.slice(1)}</button>
      </form>`,
  );
  return forms.length
    ? html`<h2>Act</h2>
        <div class="actions">${forms}</div>
        <p class="muted">
          Each writes one signed commit of rollgate-rollout.yaml, as <code>rollgate rollout</code> does; promote opens
          the next wave whatever the gate says.
        </p>`
    : html``;
}

export interface PageAccess {
  /** The session's form token, when an admin views it on a hub with a promoter. */
  csrf?: string;
  /** Why there are no buttons, for the viewer. */
  noActions?: string;
  /** What the last action said. */
  notice?: string;
}

const noActions = (a: PageAccess) => html`<p class="muted" data-testid="no-actions">${a.noActions}</p>`;

export function renderRolloutPage(v: RolloutView, read: RepoRead | undefined, access: PageAccess): string {
  const subject = (s: string | undefined) => (s ? html` <span class="muted">${s}</span>` : '');
  const steps = v.steps.map(
    (s) =>
      html`<tr>
        <td>${s.at}</td>
        <td>${s.action}${s.track ? ` ${s.track}` : ''}${s.wave !== undefined ? ` wave ${s.wave + 1}` : ''}</td>
        <td>${s.by}</td>
        <td>${s.why}</td>
        <td>${s.commit ? html`<code>${shortCommit(s.commit)}</code>` : html`<span class="muted">older</span>`}</td>
        <td>${s.signer}</td>
      </tr>`,
  );
  return layout(
    `Rollout ${v.id}`,
    html`${CSS} ${repoStatus(read)}
      ${access.notice && html`<p class="why" role="status" data-testid="notice">${access.notice}</p>`}
      <h2>Rollout <span data-testid="rollout-id">${v.id}</span> ${state(v.state)}</h2>
      <table style="width:auto">
        <tr>
          <th>base</th>
          <td><code data-testid="rollout-base">${shortCommit(v.base)}</code>${subject(v.baseSubject)}</td>
        </tr>
        <tr>
          <th>target</th>
          <td><code data-testid="rollout-target">${shortCommit(v.target)}</code>${subject(v.targetSubject)}</td>
        </tr>
      </table>
      <p class="why" data-testid="rollout-why">${v.why}</p>
      ${access.csrf ? actionForms(v, access.csrf) : noActions(access)} ${v.tracks.map((t) => trackSection(v.id, t))}
      ${v.tracks.length === 0 && html`<p class="muted">The target's policy has no waves: all at once.</p>`}
      <h2>Gateways on the target over time</h2>
      ${timelineSvg(v)}
      <h2>Steps (signed commits of rollgate-rollout.yaml)</h2>
      ${table('steps', ['at', 'step', 'by', 'why', 'commit', 'signed by'], steps)}
      <h2>Bad commits</h2>
      ${
        v.bad.length
          ? html`<ul>
              ${v.bad.map((b) => html`<li><code>${shortCommit(b.commit)}</code> (${b.rollout}): ${b.reason}</li>`)}
            </ul>`
          : html`<p class="muted">None.</p>`
      }`,
    { section: '/rollouts', self: hubPath('rollouts', v.id) },
  );
}

/** Every gateway of one wave that failed for one reason, each a link to its page. */
export function renderRolloutFailures(v: RolloutView, track: string, w: WaveView, f: FailureGroup): string {
  const rows = f.gateways.map(
    (g) =>
      html`<tr>
        <td><a href="${hubPath('gateways', g)}">${g}</a></td>
      </tr>`,
  );
  return layout(
    `Rollout ${v.id}: failed in wave ${w.number}`,
    html`${CSS}
      <p><a href="${hubPath('rollouts', v.id)}">← rollout ${v.id}</a></p>
      <h2>Wave ${w.number} ${w.name} (${track}): <span data-testid="failed-count">${f.count}</span> × ${f.reason}</h2>
      ${
        rows.length
          ? table('failed', ['gateway'], rows)
          : html`<p class="muted">No gateway of this wave fails for this reason now.</p>`
      }`,
    { section: '/rollouts', self: allFailedHref(v.id, track, w.number, f.reason) },
  );
}
