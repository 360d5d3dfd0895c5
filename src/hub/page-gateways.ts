// The gateway pages: the list (search, filters, sort, pages, and a count that says what is shown
// of how many, so nothing is cut without saying so) and one gateway (its labels, conditions by
// meaning, what it runs, its errors once each, its history; or, never seen, how to connect it).

import type { GatewayDetail } from './api-types.js';
import type { GatewayListPage } from './board-queries.js';
import { GATEWAY_SORTS, GATEWAY_STATES, type GatewaySort } from './gateway-filter.js';
import { html, hubPath, type Html } from './html.js';
import {
  conditionCell,
  GATEWAY_HEAD,
  gatewayRow,
  gatewayState,
  layout,
  orNone,
  short,
  table,
  when,
} from './page-parts.js';

/** What the list was asked for: the query's own words (checked already), the sort, the page. */
export interface GatewayListView {
  list: GatewayListPage;
  /** The filters as given, name and value, for the form and the links. */
  filters: [string, string][];
  sort: GatewaySort;
  per: number;
  now?: number;
}

const PER_PAGE = [50, 100, 200, 500] as const;
const CONDITIONS = ['Ready', 'Healthy', 'Stalled'].flatMap((t) => ['True', 'False', 'Unknown'].map((s) => `${t}=${s}`));

function href(filters: [string, string][], extra: Record<string, string | number>): string {
  const q = new URLSearchParams(filters);
  for (const [k, v] of Object.entries(extra)) q.set(k, String(v));
  return '/gateways?' + q.toString();
}

function select(name: string, label: string, options: readonly string[], value: string | undefined, any = 'any'): Html {
  return html`<label
    >${label}
    <select name="${name}">
      ${any && html`<option value="">${any}</option>`}
      ${options.map((o) =>
        o === value ? html`<option value="${o}" selected>${o}</option>` : html`<option value="${o}">${o}</option>`,
      )}
    </select></label
  >`;
}

export function renderGatewayList(v: GatewayListView): string {
  const now = v.now ?? Date.now();
  const { list } = v;
  const given = (name: string) => v.filters.find(([k]) => k === name)?.[1];
  const text = (name: string, label: string, placeholder: string) =>
    html`<label
      >${label} <input name="${name}" value="${given(name)}" placeholder="${placeholder}" size="16"
    /></label>`;
  // Filters the form has no field for (component, service, a second label, stale) ride along hidden.
  const fields = new Set(['q', 'label', 'commit', 'target', 'condition', 'state']);
  const seenLabel = v.filters.filter(([k]) => k === 'label').slice(1);
  const hidden = [...v.filters.filter(([k]) => !fields.has(k)), ...seenLabel].map(
    ([k, val]) => html`<input type="hidden" name="${k}" value="${val}" />`,
  );
  const first = list.matching === 0 ? 0 : list.offset + 1;
  const last = list.offset + list.items.length;
  const pages = Math.max(1, Math.ceil(list.matching / v.per));
  const page = Math.floor(list.offset / v.per) + 1;
  const keep = { sort: v.sort, per: v.per };
  const pager = html`<div class="pager">
    <span data-testid="list-count"
      >showing ${first}–${last} of ${list.matching}${list.matching !== list.total && ` (of ${list.total} total)`}</span
    >
    ${page > 1 && html`<a href="${href(v.filters, { ...keep, page: page - 1 })}" rel="prev">← previous</a>`}
    <span>page ${page} of ${pages}</span>
    ${page < pages && html`<a href="${href(v.filters, { ...keep, page: page + 1 })}" rel="next">next →</a>`}
  </div>`;
  const sortable: Record<string, string> = {
    gateway: 'id',
    state: 'state',
    applied: 'applied',
    'last report': 'last-seen',
  };
  const head = GATEWAY_HEAD.map((h) => {
    const key = sortable[h];
    if (!key) return h;
    const next = v.sort === key ? `-${key}` : key;
    const mark = v.sort === key ? ' ▲' : v.sort === `-${key}` ? ' ▼' : '';
    return html`<a href="${href(v.filters, { sort: next, per: v.per })}">${h}${mark}</a>`;
  });
  return layout(
    'Gateways',
    html`<h2>Gateways</h2>
      <form class="filters" method="get" action="/gateways">
        ${text('q', 'id contains', 'gw-00')} ${text('label', 'label', 'site=berlin')}
        ${text('commit', 'applied commit', '7+ hex digits')} ${text('target', 'rollout target', '7+ hex digits')}
        ${select('condition', 'condition', CONDITIONS, given('condition'))}
        ${select('state', 'state', GATEWAY_STATES, given('state'))} ${select('sort', 'sort', GATEWAY_SORTS, v.sort, '')}
        ${select(
          'per',
          'per page',
          PER_PAGE.map((n) => String(n)),
          String(v.per),
          '',
        )}
        ${hidden}
        <button type="submit">Show</button> <a href="/gateways">clear</a>
      </form>
      ${pager}
      ${orNone(
        list.items.length > 0 &&
          table(
            'gateways',
            head,
            list.items.map((g) => gatewayRow(g, now)),
          ),
        list.matching === 0 ? 'No gateway matches.' : 'No gateway on this page; go back a page.',
      )}
      ${list.items.length > 20 && pager}`,
    { section: '/gateways', self: href(v.filters, { sort: v.sort, per: v.per, page }), now },
  );
}

/** The same error said several times (each report, each retry) is one line, with how often and when last. */
function errorLines(g: GatewayDetail, now: number): Html[] {
  const st = g.status;
  const said = new Map<string, { text: Html; times: number; at: string }>();
  const add = (key: string, at: string, text: Html) => {
    const have = said.get(key);
    if (!have) said.set(key, { text, times: 1, at });
    else {
      have.times++;
      if (at > have.at) have.at = at;
    }
  };
  if (st?.lastError) add(st.lastError.message, st.lastError.at, html`${st.lastError.message}`);
  for (const b of st?.bad ?? [])
    add(`${b.commit}\n${b.kind}\n${b.reason}`, b.at, html`<code>${short(b.commit)}</code> ${b.kind} — ${b.reason}`);
  return [...said.values()].map(
    (e) =>
      html`<li>${when(e.at, now)}: ${e.text}${e.times > 1 && html` <span class="muted">(×${e.times})</span>`}</li>`,
  );
}

/** A gateway the hub knows and has never heard from: what to set on it. */
function connectHint(g: GatewayDetail, hubUrl: string): Html {
  return html`<div class="notice" data-testid="connect">
    <p><strong>${g.id} has never reported.</strong> On the gateway, in <code>/etc/rollgate/config.yaml</code>:</p>
    <pre data-testid="connect-config">
report:
  url: ${hubUrl}
  tokenFile: /etc/rollgate/hub-token</pre>
    <p>
      The token file (mode 0600) holds the token <code>rollgate hub gateway add ${g.id}</code> printed. A lost one is
      replaced with <code>rollgate hub gateway token ${g.id}</code> (the old one stops working). The same settings as
      environment variables: <code>ROLLGATE_REPORT_URL</code>, <code>ROLLGATE_REPORT_TOKEN_FILE</code>; a private CA:
      <code>report.caFile</code>.
    </p>
  </div>`;
}

export function renderGatewayPage(g: GatewayDetail, o: { hubUrl?: string; now?: number } = {}): string {
  const now = o.now ?? Date.now();
  const st = g.status;
  const conds = (st?.conditions ?? []).map(
    (c) =>
      html`<tr>
        <td>${c.type}</td>
        ${conditionCell(c.type, c.status, `gw-cond-${c.type}`)}
        <td>${c.reason}</td>
        <td>${c.message}</td>
        <td>${c.since && when(c.since, now)}</td>
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
  const errors = errorLines(g, now);
  const state = g.silent ? html`<span class="m-bad">silent since ${when(g.silentSince, now)}</span>` : gatewayState(g);
  const rss = st?.rssBytes ? ` · ${Math.round(st.rssBytes / 1048576)} MiB resident` : '';
  // What the gateway waits for (a maintenance window, a rollout's wave): one line.
  const d = st?.deferred;
  const waiting = d
    ? html`<tr>
        <th>waiting</th>
        <td data-testid="gw-waiting"><code>${short(d.commit)}</code> at the ${d.gate} gate: ${d.detail}</td>
      </tr>`
    : '';
  const history = g.history.map(
    (e) =>
      html`<tr>
        <td>${when(e.at, now)}</td>
        <td>${e.kind === 'verdict' ? (e.verdict ?? '') : e.kind}</td>
        <td><code>${e.commit && short(e.commit)}</code></td>
        <td>${e.reason}</td>
        <td>${e.detail}</td>
      </tr>`,
  );
  const label = (k: string, v: string, from: string) =>
    html`<tr>
      <td>${k}</td>
      <td>${v}</td>
      <td>${from}</td>
    </tr>`;
  const labels = [
    ...Object.entries(g.labels).map(([k, v]) => label(k, v, 'the hub')),
    ...Object.entries(st?.labels ?? {}).map(([k, v]) => label(k, v, 'its report')),
  ];
  const never = !g.lastSeen;
  return layout(
    g.id,
    html`<h2 data-testid="gateway-id">${g.id}</h2>
      <p>
        ${state} · last report ${when(g.lastSeen, now)} · rollgate ${g.version ?? '—'}${rss} · ${g.lostEvents} event(s)
        lost
      </p>
      ${never && connectHint(g, o.hubUrl ?? 'https://<this hub>')}
      <h2>Labels</h2>
      ${orNone(labels.length > 0 && table('labels', ['label', 'value', 'from'], labels, 'width:auto'), 'None.')}
      ${
        !never &&
        html`<table style="width:auto">
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
          <h2>Conditions</h2>
          ${table('conditions', ['type', 'status', 'reason', 'message', 'since'], conds)}
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
          ${table('history', ['at', 'verdict', 'commit', 'reason', 'detail'], history)}`
      }`,
    { section: '/gateways', self: hubPath('gateways', g.id), now },
  );
}
