// What a webhook says: JSON with the facts and a `text` a person can read in a chat channel as
// it is (Slack's and Mattermost's incoming webhooks show `text`). The facts stay exact for
// machines; in `text`, words that came from a gateway cannot be chat markup: no mention
// (<!channel>, <@U123>, @everyone), no link a reader could click, disguised or not, and no
// bidirectional control that would reorder the hub's own words after it (a U+202E in a detail
// would turn "… to a81c5b2e9f01" around).

import { showBidiControls } from './html.js';
import { VERDICTS, type NotifyingVerdict, type ReportEvent } from '../model/index.js';
import type { NotifyKind } from './outcomes.js';
import { shortCommit } from '../base/short-commit.js';

export interface WebhookTarget {
  url: string;
  /** The kinds it is sent; all of them when the configuration names none. */
  events: readonly NotifyKind[];
  /** When set, each body is signed: `X-Rollgate-Signature: sha256=<HMAC of the body>`. */
  secret?: string;
}

export interface Notification {
  kind: NotifyKind;
  gateway: string;
  commit?: string;
  to?: string;
  reason?: string;
  detail?: string;
  at: string;
  text: string;
}

/** A commit as everywhere else (src/base/short-commit.ts), with words a chat can say for none. */
const short = (c: string | undefined) => shortCommit(c, 'an unknown commit');
const ZWSP = '\u200B';

/**
 * `s` as plain words in Slack, Mattermost, Discord and Teams: a bidirectional control shown as
 * `<U+202E>` (./html.ts, the pages' own rule), then `&`, `<` and `>` escaped as Slack
 * asks (so <!channel>, <@U123> and <http://evil|click> are shown, not acted on); a zero-width
 * space after every `@`, in every `://`, after the dot of anything that looks like a domain, and in
 * a Markdown link's `](`, so no mention fires and nothing becomes a link a reader could click.
 */
export function chatText(s: string): string {
  return showBidiControls(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/@/g, `@${ZWSP}`)
    .replace(/:\/\//g, `:${ZWSP}//`)
    .replace(/\]\(/g, `]${ZWSP}(`)
    .replace(/\.(?=[A-Za-z]{2,})/g, `.${ZWSP}`);
}

export function notification(kind: NotifyingVerdict, gateway: string, e: ReportEvent): Notification {
  const why = [e.reason, e.detail].filter(Boolean).join(': ');
  const text = VERDICTS[kind].notify({
    gateway,
    commit: short(e.commit),
    to: short(e.to),
    because: why ? ` (${why})` : '',
  });
  return {
    kind,
    gateway,
    ...(e.commit ? { commit: e.commit } : {}),
    ...(e.to ? { to: e.to } : {}),
    ...(e.reason ? { reason: e.reason } : {}),
    ...(e.detail ? { detail: e.detail } : {}),
    at: e.at,
    text: chatText(text),
  };
}

export function silentNotification(gateway: string, lastSeen: string, at: string): Notification {
  return {
    kind: 'silent',
    gateway,
    at,
    text: chatText(`${gateway} stopped reporting: last heard from at ${lastSeen}`),
  };
}
