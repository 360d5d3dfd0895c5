// The page's session and its forms. A session is the browser holding a reader or admin token in a
// cookie (HttpOnly, SameSite=Strict, Path=/; on a TLS hub Secure and named `__Host-…`, which no
// other host — a sibling subdomain, a plain-http answer on the path — can set, so nobody can toss
// their own token into an operator's browser). Every form that changes what the browser is logged in
// as, or writes something, is checked to come from the hub's own page:
//
// - the log-in form carries a random value that is also in a cookie the log-in page set (a site
//   that posts a form to /login knows neither), so another site cannot log the operator's browser
//   in with a token of its choosing (login CSRF);
// - the rollout forms carry a value derived from the session's token (./rollout-actions.ts);
// - all of them, and the log-out, are refused when the browser says the request came from another
//   origin (Origin, Sec-Fetch-Site), whatever the values.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError } from './params.js';

/** The cookies of a hub: the session's, and the log-in form's, by whether it serves TLS. */
export interface SessionCookies {
  session: string;
  login: string;
  /** The attributes every cookie of the hub is set with. */
  attributes: string;
}

export function sessionCookies(tls: boolean): SessionCookies {
  // `__Host-` needs Secure, which a browser keeps only from an https answer: plain http keeps the bare names.
  const prefix = tls ? '__Host-' : '';
  return {
    session: `${prefix}rollgate_hub`,
    login: `${prefix}rollgate_login`,
    attributes: `HttpOnly; SameSite=Strict; Path=/${tls ? '; Secure' : ''}`,
  };
}

/** How long a log-in form stays good. */
const LOGIN_FORM_SECONDS = 3600;

/**
 * A cookie's value when it is one the hub could have set (base64url); anything else is no value,
 * never an error. Only the exact name counts: on a TLS hub, a bare `rollgate_hub` someone else set is ignored.
 */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const v = part.slice(eq + 1).trim();
    if (/^[A-Za-z0-9_-]{1,200}$/.test(v)) return v;
  }
  return undefined;
}

export const setCookie = (c: SessionCookies, name: string, value: string, maxAge?: number) =>
  `${name}=${value}; ${c.attributes}${maxAge !== undefined ? `; Max-Age=${maxAge}` : ''}`;

export const clearCookie = (c: SessionCookies, name: string) => setCookie(c, name, '', 0);

/**
 * A log-in form's value and the cookie that carries it: the browser's own, when it has one (a
 * second tab's log-in page must not spoil the first's form), else a new one. Either way only this
 * browser and the hub know it.
 */
export function loginForm(req: IncomingMessage, c: SessionCookies): { value: string; cookie: string } {
  const value = readCookie(req, c.login) ?? randomBytes(24).toString('base64url');
  return { value, cookie: setCookie(c, c.login, value, LOGIN_FORM_SECONDS) };
}

/**
 * Refuses a form the browser says another origin sent: an Origin that is not this host (a page on
 * another port of the same machine is another origin, and the same site), or Sec-Fetch-Site of
 * `cross-site` or `same-site`. Browsers send no Origin, or `null`, in some private modes; the
 * form's own value stands for the rest.
 */
export function checkSameOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (origin && origin !== 'null') {
    const host = URL.canParse(origin) ? new URL(origin).host : '';
    if (host !== req.headers.host)
      throw new HttpError(403, `a form of another site (${origin.slice(0, 200)}) is refused`);
  }
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site')
    throw new HttpError(403, `a form sent from another site (Sec-Fetch-Site: ${site}) is refused`);
}

/** Two form values, compared in time that does not depend on where they differ. */
export function sameValue(given: string, want: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Refuses a log-in that is not from the hub's own log-in page in this browser. */
export function checkLoginForm(req: IncomingMessage, c: SessionCookies, form: URLSearchParams): void {
  checkSameOrigin(req);
  const want = readCookie(req, c.login);
  if (!want || !sameValue(form.get('csrf') ?? '', want))
    throw new HttpError(403, 'this log-in form is not one the hub gave this browser, or it expired: log in again');
}
