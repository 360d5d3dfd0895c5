// The hub's web page: plain server-rendered HTML with inline CSS, no script and nothing fetched
// from anywhere, so it works on a network with no internet access. Every value is put in through
// the html`` tag (./html.ts), which escapes it: a gateway's words are text, never markup, in
// whatever field they arrive. The numbers carry data-testid attributes, which is how the browser
// test reads them.

import type { CommitSummary, FleetEvent, FleetSummary, GatewayDetail, GatewaySummary } from './api-types.js';
import { html, hubPath, raw, type Html } from './html.js';
import { shortCommit } from '../base/short-commit.js';
import type { CommitNote } from './pages/commit-note.js';

/** A commit as everywhere else (src/base/short-commit.ts), with the page's dash for none. */
const short = (c: string | undefined) => shortCommit(c, '—');
const when = (t: string | undefined) => (t ? t.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—');

/** A table with a header row. */
export function table(id: string, headers: string[], rows: Html | Html[], style?: string): Html {
  return html`<table id="${id}" style="${style}">
    <tr>
      ${headers.map((h) => html`<th>${h}</th>`)}
    </tr>
    ${rows}
  </table>`;
}
const orNone = (content: Html | false, none: string) => content || html`<p class="muted">${none}</p>`;
const gatewayLink = (id: string) => html`<a href="${hubPath('gateways', id)}">${id}</a>`;

const CSS = raw(`
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:center}
header a{color:#fff;text-decoration:none;font-weight:600}
main{padding:16px 20px;max-width:1200px}
h2{font-size:16px;margin:22px 0 8px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e3e6eb;vertical-align:top}
th{font-weight:600;background:#eef0f3}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #e3e6eb;border-radius:6px;padding:10px 14px;min-width:120px}
.card b{display:block;font-size:22px}
.bar{display:flex;height:14px;width:320px;background:#e3e6eb;border-radius:3px;overflow:hidden}
.bar span{display:block;height:100%}
.applied{background:#2e9d57}.rolled-back{background:#d64545}.rejected{background:#e5892a}
.retrying{background:#e7c43b}.pending{background:#9aa3ae}.silent{background:#4b5563}
.True{color:#2e7d32}.False{color:#c62828}.Unknown{color:#6b7280}
code{font:12px ui-monospace,monospace}
.muted{color:#6b7280}
.legend .key{margin-right:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
form.logout{margin-left:auto}
.head-mark{margin-left:6px;padding:0 6px;border-radius:8px;background:#2563eb;color:#fff;font-size:11px}
.subject{margin-left:6px}
`);

export function layout(title: string, body: Html, nav = true): string {
  const logout = nav && html`<form class="logout" method="post" action="/logout"><button>Log out</button></form>`;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>${title} · rollgate hub</title>
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <style>
          ${CSS}
        </style>
      </head>
      <body>
        <header><a href="/">rollgate fleet</a>${logout}</header>
        <main>${body}</main>
      </body>
    </html>`.text;
}

/** A page that says what is wrong (a 404, a malformed address). */
export function renderProblem(title: string, what: string): string {
  return layout(
    title,
    html`<h2>${title}</h2>
      <p role="alert">${what}</p>
      <p><a href="/">The fleet</a></p>`,
  );
}

export function renderNotFound(what: string): string {
  return renderProblem('Not found', what);
}

export function renderLoginPage(error?: string): string {
  return layout(
    'Log in',
    html`<h2>Log in</h2>
      ${error && html`<p class="False" role="alert">${error}</p>`}
      <form method="post" action="/login">
        <label
          >Reader or admin token
          <input name="token" type="password" autocomplete="current-password" size="60" autofocus
        /></label>
        <button type="submit">Log in</button>
      </form>
      <p class="muted">Tokens are made with <code>rollgate hub token add --role reader &lt;name&gt;</code>.</p>`,
    false,
  );
}

const SEGMENTS = [
  ['applied', 'applied'],
  ['rolledBack', 'rolled-back'],
  ['rejected', 'rejected'],
  ['retrying', 'retrying'],
  ['pending', 'pending'],
  ['silent', 'silent'],
] as const;

function bar(c: CommitSummary): Html {
  const total = SEGMENTS.reduce((n, [k]) => n + c[k], 0) || 1;
  const parts = SEGMENTS.filter(([k]) => c[k] > 0).map(
    ([k, cls]) =>
      html`<span class="${cls}" style="width:${((100 * c[k]) / total).toFixed(2)}%" title="${cls}: ${c[k]}"></span>`,
  );
  const label = SEGMENTS.map(([k, cls]) => `${cls} ${c[k]}`).join(', ');
  return html`<div class="bar" role="img" aria-label="${label}">${parts}</div>`;
}

function commitRow(c: CommitSummary, note: CommitNote = () => html``): Html {
  const id = short(c.commit);
  const n = (k: keyof CommitSummary) => html`<td data-testid="commit-${id}-${k}">${String(c[k])}</td>`;
  return html`<tr data-commit="${c.commit}">
    <td>
      <a href="${hubPath('commits', c.commit)}"><code>${id}</code></a
      >${note(c.commit)}<br />
      <span class="muted">${when(c.firstSeen)}</span>
    </td>
    <td>${bar(c)}</td>
    ${n('applied')}${n('healthy')}${n('rolledBack')} ${n('rejected')}${n('pending')}${n('silent')}${n('movedOn')}
  </tr>`;
}

const COMMIT_HEAD = ['commit', '', 'applied', 'healthy', 'rolled back', 'rejected', 'pending', 'silent', 'moved on'];
const EVENT_HEAD = ['gateway', 'at', 'verdict', 'commit', 'reason', 'detail'];

function gatewayRow(g: GatewaySummary): Html {
  const c = (t: 'Ready' | 'Healthy' | 'Stalled') => html`<td class="${g.conditions[t]}">${g.conditions[t] ?? '—'}</td>`;
  const state = g.silent
    ? html`<span class="False">silent</span>`
    : g.lastSeen
      ? 'reporting'
      : html`<span class="muted">never seen</span>`;
  const labels = Object.entries(g.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return html`<tr data-gateway="${g.id}">
    <td>${gatewayLink(g.id)}</td>
    <td>${state}</td>
    ${c('Ready')}${c('Healthy')}${c('Stalled')}
    <td><code>${short(g.applied)}</code></td>
    <td>${when(g.lastSeen)}</td>
    <td>${labels}</td>
  </tr>`;
}

const GATEWAY_HEAD = ['gateway', 'state', 'Ready', 'Healthy', 'Stalled', 'applied', 'last report', 'labels'];

function eventRow(e: FleetEvent, withGateway = true): Html {
  const what = e.kind === 'verdict' ? (e.verdict ?? '') : e.kind;
  return html`<tr>
    ${withGateway && html`<td>${gatewayLink(e.gateway)}</td>`}
    <td>${when(e.at)}</td>
    <td>${what}</td>
    <td><code>${e.commit && short(e.commit)}</code></td>
    <td>${e.reason}</td>
    <td>${e.detail}</td>
  </tr>`;
}

export function renderFleetPage(s: FleetSummary, gateways: GatewaySummary[], note?: CommitNote): string {
  const card = (id: string, label: string, n: number) =>
    html`<div class="card"><b data-testid="${id}">${n}</b>${label}</div>`;
  const cond = (['Ready', 'Healthy', 'Stalled'] as const).map((t) => {
    const cells = (['True', 'False', 'Unknown'] as const).map(
      (st) => html`<td class="${st}" data-testid="cond-${t}-${st}">${s.byCondition[t][st]}</td>`,
    );
    return html`<tr>
      <th>${t}</th>
      ${cells}
    </tr>`;
  });
  const reporting = s.gateways - s.silent - s.neverSeen;
  const cards = [
    card('gateways-total', 'gateways', s.gateways),
    card('gateways-reporting', 'reporting', reporting),
    card('gateways-silent', 'silent', s.silent),
    card('gateways-never', 'never reported', s.neverSeen),
  ];
  const legend = SEGMENTS.map(([, cls]) => html`<span class="key"><i class="${cls}"></i>${cls}</span> `);
  return layout(
    'Fleet',
    html`<div class="cards">${cards}</div>
      <h2>Gateways by condition</h2>
      ${table('conditions', ['', 'True', 'False', 'Unknown'], cond, 'width:auto')}
      <h2>Recent commits</h2>
      ${
        s.commits.length
          ? html`<p class="legend">${legend}</p>
              ${table(
                'commits',
                COMMIT_HEAD,
                s.commits.map((c) => commitRow(c, note)),
              )}`
          : html`<p class="muted">No gateway has reported a commit yet.</p>`
      }
      <h2>Failures</h2>
      ${orNone(
        s.failures.length > 0 &&
          table(
            'failures',
            EVENT_HEAD,
            s.failures.map((e) => eventRow(e)),
          ),
        'No rollbacks or rejections.',
      )}
      <h2>Stopped reporting</h2>
      ${orNone(
        s.silentGateways.length > 0 && table('silent', GATEWAY_HEAD, s.silentGateways.map(gatewayRow)),
        'Every gateway that reported is reporting.',
      )}
      <h2>Gateways</h2>
      ${table('gateways', GATEWAY_HEAD, gateways.map(gatewayRow))}`,
  );
}

export function renderCommitPage(c: CommitSummary, note?: CommitNote): string {
  const reasons = c.reasons.map(
    (r) =>
      html`<tr>
        <td>${r.outcome}</td>
        <td>${r.reason}</td>
        <td data-testid="reason-${r.outcome}-${r.reason}">${r.count}</td>
        <td>${r.example}</td>
      </tr>`,
  );
  const failures = c.failures.map(
    (f) =>
      html`<tr>
        <td>${gatewayLink(f.gateway)}</td>
        <td>${when(f.at)}</td>
        <td>${f.verdict}</td>
        <td>${f.reason}</td>
        <td>${f.detail}</td>
      </tr>`,
  );
  return layout(
    `Commit ${short(c.commit)}`,
    html`<h2>Commit <code>${c.commit}</code></h2>
      <p class="muted">first seen ${when(c.firstSeen)}, ${c.gateways} gateways</p>
      ${table('commits', COMMIT_HEAD, commitRow(c, note))}
      <h2>Why it failed</h2>
      ${orNone(
        reasons.length > 0 && table('reasons', ['outcome', 'reason', 'gateways', 'for example'], reasons),
        'No gateway rolled it back or rejected it.',
      )}
      ${
        failures.length > 0 &&
        html`<h2>Gateways that rolled back or rejected it</h2>
          ${table('failures', ['gateway', 'at', 'verdict', 'reason', 'detail'], failures)}`
      }`,
  );
}

export function renderGatewayPage(g: GatewayDetail): string {
  const st = g.status;
  const conds = (st?.conditions ?? []).map(
    (c) =>
      html`<tr>
        <td>${c.type}</td>
        <td class="${c.status}" data-testid="gw-cond-${c.type}">${c.status}</td>
        <td>${c.reason}</td>
        <td>${c.message}</td>
      </tr>`,
  );
  const components = (st?.components ?? []).map(
    (c) =>
      html`<tr>
        <td>${c.key}</td>
        <td>${c.type}</td>
        <td>${c.version ?? '—'}</td>
        <td>${c.updating && 'updating'}</td>
      </tr>`,
  );
  const containers = (st?.containers ?? []).map(
    (c) =>
      html`<tr>
        <td>${c.app}</td>
        <td>${c.service}</td>
        <td>${c.state}</td>
        <td>${c.health}</td>
        <td><code>${c.image}</code></td>
        <td><code>${short(c.commit)}</code></td>
      </tr>`,
  );
  const errors = [
    ...(st?.lastError ? [html`<li>${when(st.lastError.at)}: ${st.lastError.message}</li>`] : []),
    ...(st?.bad ?? []).map(
      (b) => html`<li>${when(b.at)}: <code>${short(b.commit)}</code> ${b.kind} — ${b.reason}</li>`,
    ),
  ];
  const state = g.silent
    ? html`<span class="False">silent since ${when(g.silentSince)}</span>`
    : g.lastSeen
      ? 'reporting'
      : 'never reported';
  const rss = st?.rssBytes ? ` · ${Math.round(st.rssBytes / 1048576)} MiB resident` : '';
  // What the gateway waits for (a maintenance window, a rollout's wave): one line.
  const d = st?.deferred;
  const waiting = d
    ? html`<tr>
        <th>waiting</th>
        <td data-testid="gw-waiting"><code>${short(d.commit)}</code> at the ${d.gate} gate: ${d.detail}</td>
      </tr>`
    : '';
  const history = g.history.map((e) => eventRow(e, false));
  const labels = [
    ...Object.entries(g.labels).map(
      ([k, v]) =>
        html`<tr>
          <td>${k}</td>
          <td>${v}</td>
          <td>the hub</td>
        </tr>`,
    ),
    ...Object.entries(st?.labels ?? {}).map(
      ([k, v]) =>
        html`<tr>
          <td>${k}</td>
          <td>${v}</td>
          <td>its report</td>
        </tr>`,
    ),
  ];
  return layout(
    g.id,
    html`<h2 data-testid="gateway-id">${g.id}</h2>
      <p>
        ${state} · last report ${when(g.lastSeen)} · rollgate ${g.version ?? '—'}${rss} · ${g.lostEvents} event(s) lost
      </p>
      <table style="width:auto">
        <tr>
          <th>applied</th>
          <td><code data-testid="gw-applied">${short(g.applied)}</code></td>
        </tr>
        <tr>
          <th>last good</th>
          <td><code>${short(g.lastGood)}</code></td>
        </tr>
        <tr>
          <th>branch head</th>
          <td><code>${short(g.head)}</code></td>
        </tr>
        <tr>
          <th>last attempted</th>
          <td><code>${short(g.lastAttempted?.commit)}</code> ${g.lastAttempted?.reason}</td>
        </tr>
        ${waiting}
      </table>
      <h2>Labels</h2>
      ${orNone(labels.length > 0 && table('labels', ['label', 'value', 'from'], labels, 'width:auto'), 'None.')}
      <h2>Conditions</h2>
      ${table('conditions', ['type', 'status', 'reason', 'message'], conds)}
      <h2>Components</h2>
      ${orNone(components.length > 0 && table('components', ['key', 'type', 'version', ''], components), 'None.')}
      <h2>Containers</h2>
      ${orNone(
        containers.length > 0 &&
          table('containers', ['app', 'service', 'state', 'health', 'image', 'commit'], containers),
        'None.',
      )}
      <h2>Last errors</h2>
      ${orNone(
        errors.length > 0 &&
          html`<ul id="errors">
            ${errors}
          </ul>`,
        'None.',
      )}
      <h2>History</h2>
      ${table('history', ['at', 'verdict', 'commit', 'reason', 'detail'], history)}`,
  );
}
