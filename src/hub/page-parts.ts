// The parts every page of the hub is made of: the layout with its header and navigation, tables,
// times (relative, with the absolute time at hand), condition cells coloured by meaning, a
// gateway's row. Server-rendered HTML; the one script (/assets/local-time.js, ./local-time.ts)
// only turns UTC into the viewer's time zone and keeps "n s ago" current, and the page reads the
// same without it.

import type { GatewaySummary } from './api-types.js';
import { html, hubPath, raw, type Html } from './html.js';
import { meaningOf } from './meaning.js';
import { shortCommit } from '../base/short-commit.js';
import { LOCAL_TIME_PATH } from './local-time.js';

/** A commit as everywhere else (src/base/short-commit.ts), with the page's dash for none. */
export const short = (c: string | undefined) => shortCommit(c, '—');

/** An ISO time as UTC text: what a page says without its script. */
export const utc = (t: string) =>
  t
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z')
    .replace(/Z$/, ' UTC');

/** "3 min ago", "in 2 h" (a clock ahead): the same steps the script uses. */
export function relative(t: string, now: number): string {
  const ms = now - Date.parse(t);
  if (Number.isNaN(ms)) return t;
  const s = Math.round(Math.abs(ms) / 1000);
  const text =
    s < 60
      ? `${s} s`
      : s < 3600
        ? `${Math.round(s / 60)} min`
        : s < 48 * 3600
          ? `${Math.round(s / 3600)} h`
          : `${Math.round(s / 86400)} days`;
  return ms >= -1000 ? `${text} ago` : `in ${text}`;
}

/** A time: relative, its absolute UTC time in the tooltip (the script puts the viewer's zone there). */
export function when(t: string | undefined, now = Date.now()): Html | string {
  if (!t) return '—';
  return html`<time datetime="${t}" title="${utc(t)}" data-ago>${relative(t, now)}</time>`;
}

/** A table with a header row. */
export function table(id: string, headers: (string | Html)[], rows: Html | Html[], style?: string): Html {
  return html`<table id="${id}" style="${style}">
    <tr>
      ${headers.map((h) => html`<th>${h}</th>`)}
    </tr>
    ${rows}
  </table>`;
}

export const orNone = (content: Html | false, none: string) => content || html`<p class="muted">${none}</p>`;
export const gatewayLink = (id: string) => html`<a href="${hubPath('gateways', id)}">${id}</a>`;

/** A link to the gateway list with these filters. */
export function listLink(filters: Record<string, string>, text: Html | string | number): Html {
  const q = new URLSearchParams(filters).toString();
  return html`<a href="${'/gateways' + (q ? '?' + q : '')}">${text}</a>`;
}

/** A condition's status, coloured by what it means (./meaning.ts). */
export function conditionCell(type: string, status: string | undefined, testid?: string): Html {
  return html`<td class="m-${meaningOf(type, status)}" data-testid="${testid}">${status ?? '—'}</td>`;
}

export function gatewayState(g: GatewaySummary): Html {
  return g.silent
    ? html`<span class="m-bad">silent</span>`
    : g.lastSeen
      ? html`<span>reporting</span>`
      : html`<span class="muted">never seen</span>`;
}

export function gatewayRow(g: GatewaySummary, now: number): Html {
  const labels = Object.entries(g.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return html`<tr data-gateway="${g.id}">
    <td>${gatewayLink(g.id)}</td>
    <td>${gatewayState(g)}</td>
    ${(['Ready', 'Healthy', 'Stalled'] as const).map((t) => conditionCell(t, g.conditions[t]))}
    <td><code>${short(g.applied)}</code></td>
    <td>${when(g.lastSeen, now)}</td>
    <td>${labels}</td>
  </tr>`;
}

export const GATEWAY_HEAD = ['gateway', 'state', 'Ready', 'Healthy', 'Stalled', 'applied', 'last report', 'labels'];

const CSS = raw(`
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:8px 20px;display:flex;gap:18px;align-items:center;flex-wrap:wrap}
header a{color:#cfd6e0;text-decoration:none}
header a.brand{color:#fff;font-weight:700}
header nav{display:flex;gap:14px}
header nav a[aria-current]{color:#fff;font-weight:600;border-bottom:2px solid #6ea8fe}
header .updated{margin-left:auto;color:#aeb6c2;font-size:12px}
header .updated a{color:#fff;text-decoration:underline}
main{padding:16px 20px;max-width:1200px}
h2{font-size:16px;margin:22px 0 8px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e3e6eb;vertical-align:top}
th{font-weight:600;background:#eef0f3}
th a{color:inherit}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #e3e6eb;border-radius:6px;padding:10px 14px;min-width:120px}
.card b{display:block;font-size:22px}
.card a{color:inherit;text-decoration:none}
.bar{display:flex;height:14px;width:320px;background:#e3e6eb;border-radius:3px;overflow:hidden}
.bar span{display:block;height:100%}
.applied{background:#2e9d57}.rolled-back{background:#d64545}.rejected{background:#e5892a}
.retrying{background:#e7c43b}.pending{background:#9aa3ae}.silent{background:#4b5563}.moved-on{background:#b7d7c2}
td[class^='m-'] a{color:inherit}
.m-good{color:#2e7d32}.m-bad{color:#c62828;font-weight:600}.m-busy{color:#b26a00}.m-quiet,.m-unknown{color:#6b7280}
code{font:12px ui-monospace,monospace}
.muted{color:#6b7280}
.legend .key{margin-right:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
form.logout{margin:0}
form.filters{display:flex;gap:8px;flex-wrap:wrap;align-items:end;margin:8px 0}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:#4b5563}
.pager{display:flex;gap:10px;align-items:center;margin:8px 0}
.notice{background:#fff8e1;border:1px solid #f0d98a;border-radius:6px;padding:10px 14px}
details summary{cursor:pointer}
.head-mark{margin-left:6px;padding:0 6px;border-radius:8px;background:#2563eb;color:#fff;font-size:11px}
.subject{margin-left:6px}
`);

export const NAV = [
  ['/', 'Fleet'],
  ['/gateways', 'Gateways'],
  ['/commits', 'Commits'],
  ['/rollouts', 'Rollouts'],
  ['/events', 'Events'],
  ['/versions', 'Versions'],
] as const;

export interface LayoutOptions {
  /** With the navigation and log-out button (not on the login page). */
  nav?: boolean;
  /** The navigation entry this page is under. */
  section?: (typeof NAV)[number][0];
  /** This page's own address, for the refresh link. */
  self?: string;
  /** When the page was made (ms). */
  now?: number;
}

export function layout(title: string, body: Html, o: LayoutOptions = {}): string {
  const nav = o.nav ?? true;
  const now = new Date(o.now ?? Date.now()).toISOString();
  const top =
    nav &&
    html`<nav>
        ${NAV.map(([href, name]) =>
          o.section === href
            ? html`<a href="${href}" aria-current="page">${name}</a>`
            : html`<a href="${href}">${name}</a>`,
        )}
      </nav>
      <span class="updated" data-testid="updated"
        >updated <time datetime="${now}" title="${utc(now)}" data-ago>0 s ago</time> ·
        <a href="${o.self ?? '/'}">refresh</a></span
      >
      <form class="logout" method="post" action="/logout"><button>Log out</button></form>`;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>${title} · rollgate hub</title>
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <style>
          ${CSS}
        </style>
        <script src="${LOCAL_TIME_PATH}" defer></script>
      </head>
      <body>
        <header><a class="brand" href="/">rollgate fleet</a>${top}</header>
        <main>${body}</main>
      </body>
    </html>`.text;
}
