// The hub's web page: plain server-rendered HTML with inline CSS, no script and nothing fetched
// from anywhere, so it works on a network with no internet access. Every value from a gateway is
// escaped. The numbers carry data-testid attributes, which is how the browser test reads them.

import type { CommitSummary, FleetEvent, FleetSummary, GatewayDetail, GatewaySummary } from './api-types.js';

const esc = (s: unknown) =>
  String(s ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
const short = (c: string | undefined) => (c ? c.slice(0, 12) : '—');
const when = (t: string | undefined) => (t ? esc(t.replace('T', ' ').replace(/\.\d+Z$/, 'Z')) : '—');

/** A table with a header row; `rows` are already HTML. */
function table(id: string, headers: string[], rows: string, style = ''): string {
  const th = headers.map((h) => `<th>${h}</th>`).join('');
  return `<table id="${id}"${style ? ` style="${style}"` : ''}><tr>${th}</tr>${rows}</table>`;
}
const orNone = (html: string, none: string) => html || `<p class="muted">${none}</p>`;
const gatewayLink = (id: string) => `<a href="/gateways/${encodeURIComponent(id)}">${esc(id)}</a>`;

const CSS = `
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
`;

function layout(title: string, body: string, nav = true): string {
  const logout = nav ? '<form class="logout" method="post" action="/logout"><button>Log out</button></form>' : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · rollgate hub</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>${CSS}</style></head>
<body><header><a href="/">rollgate fleet</a>${logout}</header><main>${body}</main></body></html>`;
}

export function renderNotFound(what: string): string {
  return layout('Not found', `<h2>Not found</h2><p role="alert">${esc(what)}</p><p><a href="/">The fleet</a></p>`);
}

export function renderLoginPage(error?: string): string {
  return layout(
    'Log in',
    `<h2>Log in</h2>${error ? `<p class="False" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/login"><label>Reader or admin token
<input name="token" type="password" autocomplete="current-password" size="60" autofocus></label>
<button type="submit">Log in</button></form>
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

function bar(c: CommitSummary): string {
  const total = SEGMENTS.reduce((n, [k]) => n + c[k], 0) || 1;
  const parts = SEGMENTS.filter(([k]) => c[k] > 0)
    .map(
      ([k, cls]) =>
        `<span class="${cls}" style="width:${((100 * c[k]) / total).toFixed(2)}%" title="${cls}: ${c[k]}"></span>`,
    )
    .join('');
  const label = SEGMENTS.map(([k, cls]) => `${cls} ${c[k]}`).join(', ');
  return `<div class="bar" role="img" aria-label="${label}">${parts}</div>`;
}

function commitRow(c: CommitSummary): string {
  const id = short(c.commit);
  const n = (k: keyof CommitSummary) => `<td data-testid="commit-${id}-${k}">${esc(c[k])}</td>`;
  return `<tr data-commit="${esc(c.commit)}"><td><a href="/commits/${esc(c.commit)}"><code>${id}</code></a><br>
<span class="muted">${when(c.firstSeen)}</span></td><td>${bar(c)}</td>${n('applied')}${n('healthy')}${n('rolledBack')}
${n('rejected')}${n('pending')}${n('silent')}${n('movedOn')}</tr>`;
}

const COMMIT_HEAD = ['commit', '', 'applied', 'healthy', 'rolled back', 'rejected', 'pending', 'silent', 'moved on'];
const EVENT_HEAD = ['gateway', 'at', 'verdict', 'commit', 'reason', 'detail'];

function gatewayRow(g: GatewaySummary): string {
  const c = (t: 'Ready' | 'Healthy' | 'Stalled') =>
    `<td class="${esc(g.conditions[t] ?? '')}">${esc(g.conditions[t] ?? '—')}</td>`;
  const state = g.silent
    ? '<span class="False">silent</span>'
    : g.lastSeen
      ? 'reporting'
      : '<span class="muted">never seen</span>';
  return `<tr data-gateway="${esc(g.id)}"><td><a href="/gateways/${encodeURIComponent(g.id)}">${esc(g.id)}</a></td>
<td>${state}</td>${c('Ready')}${c('Healthy')}${c('Stalled')}<td><code>${short(g.applied)}</code></td>
<td>${when(g.lastSeen)}</td><td>${esc(
    Object.entries(g.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(' '),
  )}</td></tr>`;
}

const GATEWAY_HEAD = ['gateway', 'state', 'Ready', 'Healthy', 'Stalled', 'applied', 'last report', 'labels'];

function eventRow(e: FleetEvent, withGateway = true): string {
  const what = e.kind === 'verdict' ? (e.verdict ?? '') : e.kind;
  return `<tr>${withGateway ? `<td>${gatewayLink(e.gateway)}</td>` : ''}
<td>${when(e.at)}</td><td>${esc(what)}</td><td><code>${e.commit ? short(e.commit) : ''}</code></td>
<td>${esc(e.reason ?? '')}</td><td>${esc(e.detail ?? '')}</td></tr>`;
}

export function renderFleetPage(s: FleetSummary, gateways: GatewaySummary[]): string {
  const card = (id: string, label: string, n: number) =>
    `<div class="card"><b data-testid="${id}">${n}</b>${esc(label)}</div>`;
  const cond = (['Ready', 'Healthy', 'Stalled'] as const)
    .map((t) => {
      const cells = (['True', 'False', 'Unknown'] as const)
        .map((st) => `<td class="${st}" data-testid="cond-${t}-${st}">${s.byCondition[t][st]}</td>`)
        .join('');
      return `<tr><th>${t}</th>${cells}</tr>`;
    })
    .join('');
  const reporting = s.gateways - s.silent - s.neverSeen;
  const cards = [
    card('gateways-total', 'gateways', s.gateways),
    card('gateways-reporting', 'reporting', reporting),
    card('gateways-silent', 'silent', s.silent),
    card('gateways-never', 'never reported', s.neverSeen),
  ].join('');
  const legend = SEGMENTS.map(([, cls]) => `<span class="key"><i class="${cls}"></i>${cls}</span>`).join(' ');
  return layout(
    'Fleet',
    `<div class="cards">${cards}</div>
<h2>Gateways by condition</h2>${table('conditions', ['', 'True', 'False', 'Unknown'], cond, 'width:auto')}
<h2>Recent commits</h2>${
      s.commits.length
        ? `<p class="legend">${legend}</p>${table('commits', COMMIT_HEAD, s.commits.map(commitRow).join(''))}`
        : '<p class="muted">No gateway has reported a commit yet.</p>'
    }
<h2>Failures</h2>${orNone(
      s.failures.length ? table('failures', EVENT_HEAD, s.failures.map((e) => eventRow(e)).join('')) : '',
      'No rollbacks or rejections.',
    )}
<h2>Stopped reporting</h2>${orNone(
      s.silentGateways.length ? table('silent', GATEWAY_HEAD, s.silentGateways.map(gatewayRow).join('')) : '',
      'Every gateway that reported is reporting.',
    )}
<h2>Gateways</h2>${table('gateways', GATEWAY_HEAD, gateways.map(gatewayRow).join(''))}`,
  );
}

export function renderCommitPage(c: CommitSummary): string {
  const reasons = c.reasons
    .map((r) => {
      const id = `reason-${esc(r.outcome)}-${esc(r.reason)}`;
      return `<tr><td>${esc(r.outcome)}</td><td>${esc(r.reason)}</td><td data-testid="${id}">${r.count}</td>
<td>${esc(r.example ?? '')}</td></tr>`;
    })
    .join('');
  const failures = c.failures
    .map(
      (f) =>
        `<tr><td>${gatewayLink(f.gateway)}</td><td>${when(f.at)}</td><td>${esc(f.verdict)}</td>` +
        `<td>${esc(f.reason ?? '')}</td><td>${esc(f.detail ?? '')}</td></tr>`,
    )
    .join('');
  const failed = failures
    ? `<h2>Gateways that rolled back or rejected it</h2>` +
      table('failures', ['gateway', 'at', 'verdict', 'reason', 'detail'], failures)
    : '';
  return layout(
    `Commit ${short(c.commit)}`,
    `<h2>Commit <code>${esc(c.commit)}</code></h2>
<p class="muted">first seen ${when(c.firstSeen)}, ${c.gateways} gateways</p>
${table('commits', COMMIT_HEAD, commitRow(c))}
<h2>Why it failed</h2>${orNone(
      reasons ? table('reasons', ['outcome', 'reason', 'gateways', 'for example'], reasons) : '',
      'No gateway rolled it back or rejected it.',
    )}
${failed}`,
  );
}

export function renderGatewayPage(g: GatewayDetail): string {
  const st = g.status;
  const conds = (st?.conditions ?? [])
    .map(
      (c) =>
        `<tr><td>${esc(c.type)}</td>` +
        `<td class="${esc(c.status)}" data-testid="gw-cond-${esc(c.type)}">${esc(c.status)}</td>` +
        `<td>${esc(c.reason)}</td><td>${esc(c.message ?? '')}</td></tr>`,
    )
    .join('');
  const components = (st?.components ?? [])
    .map(
      (c) =>
        `<tr><td>${esc(c.key)}</td><td>${esc(c.type)}</td><td>${esc(c.version ?? '—')}</td>` +
        `<td>${c.updating ? 'updating' : ''}</td></tr>`,
    )
    .join('');
  const containers = (st?.containers ?? [])
    .map(
      (c) =>
        `<tr><td>${esc(c.app)}</td><td>${esc(c.service)}</td><td>${esc(c.state)}</td><td>${esc(c.health ?? '')}</td>` +
        `<td><code>${esc(c.image)}</code></td><td><code>${short(c.commit)}</code></td></tr>`,
    )
    .join('');
  const errors = [
    ...(st?.lastError ? [`<li>${when(st.lastError.at)}: ${esc(st.lastError.message)}</li>`] : []),
    ...(st?.bad ?? []).map(
      (b) => `<li>${when(b.at)}: <code>${short(b.commit)}</code> ${esc(b.kind)} — ${esc(b.reason)}</li>`,
    ),
  ].join('');
  const state = g.silent
    ? `<span class="False">silent since ${when(g.silentSince)}</span>`
    : g.lastSeen
      ? 'reporting'
      : 'never reported';
  const rss = st?.rssBytes ? ` · ${Math.round(st.rssBytes / 1048576)} MiB resident` : '';
  const lost = `${g.lostEvents} event(s) lost`;
  const history = g.history.map((e) => eventRow(e, false)).join('');
  const attempted = `<code>${short(g.lastAttempted?.commit)}</code> ${esc(g.lastAttempted?.reason ?? '')}`;
  return layout(
    g.id,
    `<h2 data-testid="gateway-id">${esc(g.id)}</h2>
<p>${state} · last report ${when(g.lastSeen)} · rollgate ${esc(g.version ?? '—')}${rss} · ${lost}</p>
<table style="width:auto"><tr><th>applied</th><td><code data-testid="gw-applied">${short(g.applied)}</code></td></tr>
<tr><th>last good</th><td><code>${short(g.lastGood)}</code></td></tr>
<tr><th>branch head</th><td><code>${short(g.head)}</code></td></tr>
<tr><th>last attempted</th><td>${attempted}</td></tr></table>
<h2>Conditions</h2>${table('conditions', ['type', 'status', 'reason', 'message'], conds)}
<h2>Components</h2>${orNone(components && table('components', ['key', 'type', 'version', ''], components), 'None.')}
<h2>Containers</h2>${orNone(
      containers && table('containers', ['app', 'service', 'state', 'health', 'image', 'commit'], containers),
      'None.',
    )}
<h2>Last errors</h2>${orNone(errors && `<ul id="errors">${errors}</ul>`, 'None.')}
<h2>History</h2>${table('history', ['at', 'verdict', 'commit', 'reason', 'detail'], history)}`,
  );
}
