// Two views across the fleet: which versions run where (each component type and each app's
// service, by version, on how many gateways, each count a link to those gateways), and the event
// stream, newest first, a page at a time.

import type { FleetEvent, Page } from './api-types.js';
import type { FleetVersions, VersionCount } from './board-queries.js';
import { html, hubPath, type Html } from './html.js';
import { gatewayLink, layout, listLink, orNone, short, table, when } from './page-parts.js';

function versionRows(rows: VersionCount[], filter: (r: VersionCount) => Record<string, string>, id: string): Html[] {
  let previous: string | undefined;
  return rows.map((r) => {
    const first = r.what !== previous;
    previous = r.what;
    return html`<tr>
      <td>${first ? r.what : ''}</td>
      <td><code>${r.version || '—'}</code></td>
      <td data-testid="${id}-${r.what}-${r.version}">${listLink(filter(r), r.gateways)}</td>
    </tr>`;
  });
}

export function renderVersionsPage(v: FleetVersions, now = Date.now()): string {
  return layout(
    'Versions',
    html`<h2>Versions across the fleet</h2>
      <p class="muted">
        From each gateway's last report (${v.reported} gateways reported). Each count links to its gateways.
      </p>
      <h2>Components</h2>
      ${orNone(
        v.components.length > 0 &&
          table(
            'versions-components',
            ['type', 'version', 'gateways'],
            versionRows(v.components, (r) => ({ component: `${r.what}=${r.version}` }), 'component'),
            'width:auto',
          ),
        'No gateway reported a component.',
      )}
      <h2>App services</h2>
      ${orNone(
        v.services.length > 0 &&
          table(
            'versions-services',
            ['app/service', 'image', 'gateways'],
            versionRows(v.services, (r) => ({ service: `${r.what}=${r.version}` }), 'service'),
            'width:auto',
          ),
        'No gateway reported a container.',
      )}`,
    { section: '/versions', self: '/versions', now },
  );
}

export interface EventsView {
  page: Page<FleetEvent>;
  filters: [string, string][];
  now?: number;
}

export function renderEventsPage(v: EventsView): string {
  const now = v.now ?? Date.now();
  const rows = v.page.items.map(
    (e) =>
      html`<tr>
        <td>${gatewayLink(e.gateway)}</td>
        <td>${when(e.at, now)}</td>
        <td class="${e.verdict === 'rolled-back' || e.verdict === 'rejected' || e.kind === 'silent' ? 'm-bad' : ''}">
          ${e.kind === 'verdict' ? (e.verdict ?? '') : e.kind}
        </td>
        <td>${e.commit && html`<a href="${hubPath('commits', e.commit)}"><code>${short(e.commit)}</code></a>`}</td>
        <td>${e.reason}</td>
        <td>${e.detail}</td>
      </tr>`,
  );
  const q = new URLSearchParams(v.filters.filter(([k]) => k !== 'before'));
  const older = v.page.next && (q.set('before', v.page.next), '/events?' + q.toString());
  return layout(
    'Events',
    html`<h2>Events, newest first</h2>
      ${orNone(
        rows.length > 0 && table('events', ['gateway', 'at', 'what', 'commit', 'reason', 'detail'], rows),
        'No events.',
      )}
      <p class="pager">
        ${v.filters.some(([k]) => k === 'before') && html`<a href="/events">newest</a>`}
        ${older && html`<a href="${older}" rel="next">older →</a>`}
      </p>`,
    { section: '/events', self: '/events', now },
  );
}
