// The hub's web pages: plain server-rendered HTML with inline CSS, nothing fetched from anywhere
// but the hub, so they work on a network with no internet access. Every value is put in through
// the html`` tag (./html.ts), which escapes it: a gateway's words are text, never markup, in
// whatever field they arrive. The numbers carry data-testid attributes, which is how the browser
// tests read them. This file holds the overview, the commits and the login; the gateway pages are
// in ./page-gateways.ts, the versions and events in ./page-fleet.ts, the shared parts in ./page-parts.ts.

import type { CommitLine, CommitSummary, FleetOverview, GatewaySummary } from './api-types.js';
import type { FailureGroup } from './board-queries.js';
import { html, hubPath, type Html } from './html.js';
import { meaningOf } from './meaning.js';
import type { CommitNote } from './pages/commit-note.js';
import { GATEWAY_HEAD, gatewayLink, gatewayRow, layout, listLink, orNone, short, table, when } from './page-parts.js';

export { layout, table } from './page-parts.js';
export { renderGatewayList, renderGatewayPage } from './page-gateways.js';

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

/** `csrf`: the form's random value, also in the log-in cookie (./session.ts). */
export function renderLoginPage(csrf: string, error?: string): string {
  return layout(
    'Log in',
    html`<h2>Log in</h2>
      ${error && html`<p class="m-bad" role="alert">${error}</p>`}
      <form method="post" action="/login">
        <input type="hidden" name="csrf" value="${csrf}" />
        <label
          >Reader or admin token
          <input name="token" type="password" autocomplete="current-password" size="60" autofocus
        /></label>
        <button type="submit">Log in</button>
      </form>
      <p class="muted">Tokens are made with <code>rollgate hub token add --role reader &lt;name&gt;</code>.</p>`,
    { nav: false },
  );
}

/**
 * The parts of a commit's bar, in order. Gateways that never reported are no part of it: they are
 * counted once, on the fleet's cards, not as "pending" on every commit.
 */
const SEGMENTS = [
  ['applied', 'applied'],
  ['rolledBack', 'rolled-back'],
  ['rejected', 'rejected'],
  ['retrying', 'retrying'],
  ['pending', 'pending'],
  ['silent', 'silent'],
  ['movedOn', 'moved-on'],
] as const;

function bar(c: CommitLine): Html {
  const total = SEGMENTS.reduce((n, [k]) => n + c[k], 0) || 1;
  const parts = SEGMENTS.filter(([k]) => c[k] > 0).map(
    ([k, cls]) =>
      html`<span class="${cls}" style="width:${((100 * c[k]) / total).toFixed(2)}%" title="${cls}: ${c[k]}"></span>`,
  );
  const label = SEGMENTS.map(([k, cls]) => `${cls} ${c[k]}`).join(', ');
  return html`<div class="bar" role="img" aria-label="${label}">${parts}</div>`;
}

/** No subject or head mark: the hub does not read the fleet repo. */
const NO_NOTE: CommitNote = () => html``;

function commitRow(c: CommitLine, now: number, note: CommitNote = NO_NOTE): Html {
  const id = short(c.commit);
  const n = (k: keyof CommitLine) => html`<td data-testid="commit-${id}-${k}">${String(c[k])}</td>`;
  return html`<tr data-commit="${c.commit}">
    <td>
      <a href="${hubPath('commits', c.commit)}"><code>${id}</code></a
      >${note(c.commit)}<br />
      <span class="muted">first seen ${when(c.firstSeen, now)}</span>
    </td>
    <td>${bar(c)}</td>
    ${n('applied')}${n('healthy')}${n('rolledBack')}${n('rejected')}${n('retrying')}${n('pending')}${n('silent')}
    ${n('movedOn')}
  </tr>`;
}

const COMMIT_HEAD = [
  'commit',
  '',
  'applied',
  'healthy',
  'rolled back',
  'rejected',
  'retrying',
  'pending',
  'silent',
  'moved on',
];
const legend = () =>
  html`<p class="legend">
    ${SEGMENTS.map(([, cls]) => html`<span class="key"><i class="${cls}"></i>${cls}</span> `)}
  </p>`;

/** Failures grouped by commit and reason: a count, the gateways behind a disclosure. */
export function failureTable(groups: FailureGroup[], now: number): Html {
  const rows = groups.map((f) => {
    const more = f.count - f.gateways.length;
    return html`<tr>
      <td>
        <details>
          <summary data-testid="failures-${short(f.commit)}-${f.reason}">
            ${f.count} gateway${f.count === 1 ? '' : 's'}
          </summary>
          ${f.gateways.map((g) => html`${gatewayLink(g)} `)}${more > 0 && html` and ${more} more`}
        </details>
      </td>
      <td>
        <a href="${hubPath('commits', f.commit)}"><code>${short(f.commit)}</code></a>
      </td>
      <td class="m-bad">${f.outcome}</td>
      <td>${f.reason}</td>
      <td>${f.example}</td>
      <td>${when(f.latest, now)}</td>
    </tr>`;
  });
  return table('failures', ['gateways', 'commit', 'outcome', 'reason', 'for example', 'latest'], rows);
}

export interface FleetPageExtras {
  failures?: FailureGroup[];
  /** How many gateways the list would show in all (the overview shows the first few). */
  listed?: number;
  now?: number;
  /** Each commit's subject and head mark, when the hub reads the fleet repo. */
  note?: CommitNote;
}

export function renderFleetPage(s: FleetOverview, gateways: GatewaySummary[], x: FleetPageExtras = {}): string {
  const now = x.now ?? Date.now();
  const card = (id: string, label: string, n: number, filter: Record<string, string>) =>
    html`<div class="card">${listLink(filter, html`<b data-testid="${id}">${n}</b>${label}`)}</div>`;
  const cond = (['Ready', 'Healthy', 'Stalled'] as const).map((t) => {
    const cells = (['True', 'False', 'Unknown'] as const).map(
      (st) =>
        html`<td class="m-${meaningOf(t, st)}" data-testid="cond-${t}-${st}">
          ${listLink({ condition: `${t}=${st}` }, s.byCondition[t][st])}
        </td>`,
    );
    return html`<tr>
      <th>${t}</th>
      ${cells}
    </tr>`;
  });
  const reporting = s.gateways - s.silent - s.neverSeen;
  const cards = [
    card('gateways-total', 'gateways', s.gateways, {}),
    card('gateways-reporting', 'reporting', reporting, { state: 'reporting' }),
    card('gateways-silent', 'silent', s.silent, { state: 'silent' }),
    card('gateways-never', 'never reported', s.neverSeen, { state: 'never' }),
  ];
  const listed = x.listed ?? gateways.length;
  const failures = x.failures
    ? orNone(x.failures.length > 0 && failureTable(x.failures, now), 'No rollbacks, rejections or retries.')
    : orNone(
        s.failures !== undefined &&
          s.failures.length > 0 &&
          table(
            'failures',
            ['gateway', 'at', 'verdict', 'commit', 'reason', 'detail'],
            s.failures.map(
              (e) =>
                html`<tr>
                  <td>${gatewayLink(e.gateway)}</td>
                  <td>${when(e.at, now)}</td>
                  <td>${e.verdict}</td>
                  <td><code>${e.commit && short(e.commit)}</code></td>
                  <td>${e.reason}</td>
                  <td>${e.detail}</td>
                </tr>`,
            ),
          ),
        'No rollbacks or rejections.',
      );
  return layout(
    'Fleet',
    html`<div class="cards">${cards}</div>
      <h2>Gateways by condition</h2>
      ${table('conditions', ['', 'True', 'False', 'Unknown'], cond, 'width:auto')}
      <h2>Recent commits</h2>
      ${
        s.commits.length
          ? html`${legend()}
              ${table(
                'commits',
                COMMIT_HEAD,
                s.commits.map((c) => commitRow(c, now, x.note)),
              )}
              <p class="muted"><a href="/commits">All recent commits</a></p>`
          : html`<p class="muted">No gateway has reported a commit yet.</p>`
      }
      <h2>Failures of the recent commits, by reason</h2>
      ${failures}
      <h2>Stopped reporting</h2>
      ${orNone(
        s.silentGateways.length > 0 &&
          table(
            'silent',
            GATEWAY_HEAD,
            s.silentGateways.map((g) => gatewayRow(g, now)),
          ),
        'Every gateway that reported is reporting.',
      )}
      <h2>Gateways</h2>
      <p class="muted" data-testid="overview-listed">
        The first ${gateways.length} of ${listed} by id.
        ${listLink({}, `Search, filter and page through all ${listed}`)}
      </p>
      ${table(
        'gateways',
        GATEWAY_HEAD,
        gateways.map((g) => gatewayRow(g, now)),
      )}`,
    { section: '/', self: '/', now },
  );
}

/** The newest commits, each with its bar. */
export function renderCommitsPage(commits: CommitLine[], now = Date.now(), note?: CommitNote): string {
  return layout(
    'Commits',
    html`<h2>Recent commits</h2>
      ${
        commits.length
          ? html`${legend()}
            ${table(
              'commits',
              COMMIT_HEAD,
              commits.map((c) => commitRow(c, now, note)),
            )}`
          : html`<p class="muted">No gateway has reported a commit yet.</p>`
      }
      <p class="muted">
        Gateways that never reported are not part of any bar. <em>moved on</em>: said nothing on the commit and run a
        newer one.
      </p>`,
    { section: '/commits', self: '/commits', now },
  );
}

export function renderCommitPage(c: CommitSummary, now = Date.now(), note?: CommitNote): string {
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
        <td>${when(f.at, now)}</td>
        <td>${f.verdict}</td>
        <td>${f.reason}</td>
        <td>${f.detail}</td>
      </tr>`,
  );
  return layout(
    `Commit ${short(c.commit)}`,
    html`<h2>Commit <code>${c.commit}</code></h2>
      <p class="muted">
        first seen ${when(c.firstSeen, now)}, ${c.gateways} gateways (${c.neverSeen} never reported) ·
        ${listLink({ commit: c.commit }, 'the gateways that run it')}
      </p>
      ${legend()} ${table('commits', COMMIT_HEAD, commitRow(c, now, note))}
      <h2>Why it failed</h2>
      ${orNone(
        reasons.length > 0 && table('reasons', ['outcome', 'reason', 'gateways', 'for example'], reasons),
        'No gateway rolled it back or rejected it.',
      )}
      ${
        failures.length > 0 &&
        html`<details>
          <summary>Gateways that rolled back or rejected it (${failures.length})</summary>
          ${table('failures', ['gateway', 'at', 'verdict', 'reason', 'detail'], failures)}
        </details>`
      }`,
    { section: '/commits', self: hubPath('commits', c.commit), now },
  );
}
