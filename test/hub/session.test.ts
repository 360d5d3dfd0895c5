// The page's log-in, session cookie and log-out, attacked as another site would (./src/hub/session.ts).
// A form another site posts to /login — with a token of the attacker's, so that the operator's browser
// works in the attacker's session — is refused: it lacks the one-time value the log-in page put in
// the form and in a cookie, or the browser says where it came from (Origin, Sec-Fetch-Site). The
// cookies' attributes are read as sent, on plain http and on TLS (where they are `__Host-` and
// Secure, and a bare-named cookie someone else set is no session). Last, headless Chromium opens a
// page of another origin on the same machine that posts the log-in form, and is not logged in.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { tempDir } from '../helpers/fixtures.js';
import { hubDatabases, lab, type Lab } from '../helpers/hub.js';
import { privateCa } from '../helpers/tls.js';

const CHROMIUM = '/usr/bin/chromium';
const noBrowser = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} (Debian package chromium)`;
if (noBrowser && process.env['CI'] === 'true') throw new Error(`CI=true and ${noBrowser} is missing`);

const dbs = await hubDatabases();
const ca = privateCa(tempDir('rollgate-hub-session-'), 'hub-ca');
const labs: Lab[] = [];
let browser: Browser | undefined;
let attacker: Server | undefined;
before(async () => {
  labs.push(await lab(dbs.kinds[0]!, {}));
  labs.push(await lab(dbs.kinds[0]!, {}, { tls: ca.server }));
});
after(async () => {
  await browser?.close();
  await new Promise((r) => (attacker ? attacker.close(r) : r(undefined)));
  for (const l of labs) await l.hub.stop();
  await dbs.stop();
});

interface Reply {
  status: number;
  location: string | undefined;
  cookies: string[];
  csp: string;
  text: string;
}

/** One request with exactly these headers (fetch would add or refuse some), over http or https. */
function send(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Reply> {
  const u = new URL(path, base);
  const o = {
    method,
    headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) },
  };
  return new Promise((resolve, reject) => {
    const done = (res: import('node:http').IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          location: res.headers.location,
          cookies: res.headers['set-cookie'] ?? [],
          csp: String(res.headers['content-security-policy'] ?? ''),
          text,
        }),
      );
    };
    const req =
      u.protocol === 'https:'
        ? httpsRequest(u, { ...o, ca: readFileSync(ca.caCrt, 'utf8') }, done)
        : httpRequest(u, o, done);
    req.on('error', reject);
    req.end(body);
  });
}

const cookieValue = (cookies: string[], name: string) =>
  cookies.map((c) => new RegExp(`^${name.replace(/[-]/g, '\\-')}=([^;]*)`).exec(c)?.[1]).find((v) => v !== undefined);

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

for (const tls of [false, true]) {
  const names = tls
    ? { session: '__Host-rollgate_hub', login: '__Host-rollgate_login' }
    : { session: 'rollgate_hub', login: 'rollgate_login' };
  const attrs = `HttpOnly; SameSite=Strict; Path=/${tls ? '; Secure' : ''}`;

  describe(`the log-in on ${tls ? 'https' : 'http'}`, () => {
    const hub = () => labs[tls ? 1 : 0]!;
    const host = () => new URL(hub().url).host;
    /** A fresh log-in page: its form's value and its cookie. */
    async function loginPage(): Promise<{ value: string; cookie: string }> {
      const r = await send(hub().url, 'GET', '/login', {});
      assert.equal(r.status, 200);
      const value = cookieValue(r.cookies, names.login);
      assert.ok(value, `a ${names.login} cookie: ${r.cookies.join(' | ')}`);
      assert.equal(r.cookies[0], `${names.login}=${value}; ${attrs}; Max-Age=3600`);
      assert.match(r.text, new RegExp(`<input type="hidden" name="csrf" value="${value}"`));
      // Not framed by another site (clickjacking the form), posting only to the hub, no <base> honoured.
      for (const d of ["frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"])
        assert.ok(r.csp.includes(d), `${d} in ${r.csp}`);
      return { value, cookie: `${names.login}=${value}` };
    }
    const post = (headers: Record<string, string>, fields: Record<string, string>) =>
      send(hub().url, 'POST', '/login', { ...FORM, host: host(), ...headers }, form(fields));
    const noSession = (r: Reply, what: string) => {
      assert.equal(r.status, 403, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
      assert.equal(cookieValue(r.cookies, names.session), undefined, `${what}: no session cookie`);
      assert.match(r.text, /role="alert"/, what);
    };

    test('a form the log-in page did not give this browser is refused, before the token is looked at', async () => {
      const { value, cookie } = await loginPage();
      const token = hub().admin;
      noSession(await post({}, { token }), 'no value, no cookie');
      noSession(await post({}, { token, csrf: value }), 'the value without its cookie');
      noSession(await post({ cookie }, { token }), 'the cookie without the value');
      noSession(await post({ cookie }, { token, csrf: value.slice(1) + 'A' }), 'another value');
      noSession(await post({ cookie: `${names.login}=${value.slice(1)}A` }, { token, csrf: value }), 'another cookie');
      // The right value and cookie, but the browser says another site sent it.
      noSession(await post({ cookie, origin: 'https://evil.example' }, { token, csrf: value }), 'another origin');
      const port = Number(host().split(':')[1]) + 1;
      noSession(
        await post({ cookie, origin: `${tls ? 'https' : 'http'}://127.0.0.1:${port}` }, { token, csrf: value }),
        'another port of the same machine',
      );
      for (const site of ['cross-site', 'same-site'])
        noSession(await post({ cookie, 'sec-fetch-site': site }, { token, csrf: value }), `Sec-Fetch-Site ${site}`);
    });

    test("the hub's own form logs in: the session cookie's attributes, the log-in cookie gone", async () => {
      const { value, cookie } = await loginPage();
      // A second log-in page in the same browser (another tab) keeps the value: the first tab's form still works.
      const again = await send(hub().url, 'GET', '/login', { cookie });
      assert.equal(cookieValue(again.cookies, names.login), value);
      assert.notEqual(cookieValue((await send(hub().url, 'GET', '/login', {})).cookies, names.login), value);
      const bad = await post({ cookie }, { token: 'rga_nope', csrf: value });
      assert.equal(bad.status, 200);
      assert.match(bad.text, /not a reader or admin token/);
      assert.equal(cookieValue(bad.cookies, names.session), undefined);
      const origin = `${tls ? 'https' : 'http'}://${host()}`;
      const ok = await post({ cookie, origin, 'sec-fetch-site': 'same-origin' }, { token: hub().reader, csrf: value });
      assert.equal(ok.status, 303, ok.text);
      assert.equal(ok.location, '/');
      assert.deepEqual(ok.cookies, [
        `${names.session}=${hub().reader}; ${attrs}`,
        `${names.login}=; ${attrs}; Max-Age=0`,
      ]);
      assert.doesNotMatch(ok.cookies.join(), /Domain=/i);
      const page = await send(hub().url, 'GET', '/', { cookie: `${names.session}=${hub().reader}` });
      assert.equal(page.status, 200);
    });

    test('the log-out clears the cookie, and another site cannot log the operator out', async () => {
      const cookie = `${names.session}=${hub().reader}`;
      const foreign = await send(hub().url, 'POST', '/logout', { cookie, origin: 'https://evil.example' }, '');
      assert.equal(foreign.status, 403);
      assert.deepEqual(foreign.cookies, []);
      const out = await send(hub().url, 'POST', '/logout', { cookie, 'sec-fetch-site': 'same-origin' }, '');
      assert.equal(out.status, 303);
      assert.equal(out.location, '/login');
      assert.deepEqual(out.cookies, [`${names.session}=; ${attrs}; Max-Age=0`]);
    });

    if (tls)
      test('on TLS, a cookie without the __Host- prefix (one another host could set) is no session', async () => {
        const tossed = await send(hub().url, 'GET', '/', { cookie: `rollgate_hub=${hub().admin}` });
        assert.equal(tossed.status, 303);
        assert.equal(tossed.location, '/login');
        const own = await send(hub().url, 'GET', '/', { cookie: `__Host-rollgate_hub=${hub().admin}` });
        assert.equal(own.status, 200);
      });
  });
}

test(
  'in Chromium, a page of another origin that posts the log-in form does not log the browser in',
  { skip: noBrowser },
  async () => {
    const hub = labs[0]!;
    // The attacker's page, on another port of the same machine: another origin, the same site (so
    // SameSite cookies go along), posting the hub's log-in form with the attacker's token.
    attacker = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(
        `<form id="f" method="post" action="${hub.url}/login">` +
          `<input name="token" value="${hub.reader}"><input name="csrf" value="guess"></form>` +
          '<script>document.getElementById("f").submit()</script>',
      );
    });
    await new Promise<void>((r) => attacker!.listen(0, '127.0.0.1', r));
    const evil = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const context = await browser.newContext();
    const page = await context.newPage();
    // The operator had the log-in page open once: its cookie is in the browser, and goes along.
    await page.goto(`${hub.url}/login`);
    await page.goto(evil);
    await page.waitForURL(`${hub.url}/login`);
    assert.match(await page.innerText('[role=alert]'), /not one the hub gave this browser|another site/);
    const cookies = await context.cookies(hub.url);
    assert.equal(
      cookies.find((c) => c.name === 'rollgate_hub'),
      undefined,
      'no session cookie',
    );
    await page.goto(`${hub.url}/`);
    assert.match(page.url(), /\/login$/, 'not logged in');
    // The hub's own form still works in the same browser.
    await page.fill('input[name=token]', hub.reader);
    await page.click('button[type=submit]');
    assert.equal(page.url(), `${hub.url}/`);
    await context.close();
  },
);
