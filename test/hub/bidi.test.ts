// Bidirectional text from gateways cannot move the page's own words. A value may hold a
// RIGHT-TO-LEFT OVERRIDE (U+202E), an isolate left open (U+2067), the invisible marks, or
// right-to-left letters next to digits: unisolated, each reorders what follows it on the line, so
// "rolled back" could read as something else and one gateway's id as another's. src/hub/html.ts
// shows every control as "<U+202E>" and puts every value that is not plain ASCII in a <bdi>; the
// contexts a value may land in are walked here one by one, then a real hub's pages are read in
// headless Chromium after a gateway reported such values in every free-text field it has.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { BIDI_CONTROLS, html } from '../../src/hub/html.js';
import { call, hubDatabases, lab, report, sha, status, verdict, type Lab } from '../helpers/hub.js';

const CHROMIUM = '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} (Debian package chromium)`;
if (missing && process.env['CI'] === 'true') throw new Error(`CI=true and ${missing} is missing`);
if (missing) process.stderr.write(`\n!!! SKIPPING the bidi browser test: ${missing} is missing\n\n`);

/** Every control the hub shows as text, one value each, left open where it can be. */
const CONTROLS = ['\u061c', '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e']
  .concat(['\u2066', '\u2067', '\u2068', '\u2069'])
  .map((c) => `${c}deliaf`);
/** Right-to-left letters next to digits: with no control at all, they pull the digits after them. */
const HEBREW = 'שלום';
const RTL = `${HEBREW} 7`;
const ANY_CONTROL = new RegExp(BIDI_CONTROLS.source);

describe('the html tag isolates what it is given', () => {
  const v = '\u202Eabc';
  const cases: [string, string, string][] = [
    // where the value lands, the markup, what the value must become there
    ['element content', html`<td>${v}</td>`.text, '<td><bdi>&lt;U+202E&gt;abc</bdi></td>'],
    ['an attribute', html`<a title="${v}">x</a>`.text, '<a title="&lt;U+202E&gt;abc">x</a>'],
    ['a page title', html`<title>${v} · hub</title>`.text, '<title>&lt;U+202E&gt;abc · hub</title>'],
    [
      'an option',
      html`<option value="${v}" selected>${v}</option>`.text,
      '<option value="&lt;U+202E&gt;abc" selected>&lt;U+202E&gt;abc</option>',
    ],
    ['an SVG text', html`<text x="1">${v}</text>`.text, '<text x="1">&lt;U+202E&gt;abc</text>'],
    [
      'after a closed text-only element',
      html`<title>t</title>
        <p>${v}</p>`.text,
      '<title>t</title><p><bdi>&lt;U+202E&gt;abc</bdi></p>',
    ],
    ['a right-to-left word', html`<li>${RTL}</li>`.text, `<li><bdi>${RTL}</bdi></li>`],
    ['plain ASCII, no wrapper', html`<li>${'gw-1 rolled back'}</li>`.text, '<li>gw-1 rolled back</li>'],
    ['a number', html`<li>${42}</li>`.text, '<li>42</li>'],
    [
      'after a value, inside a nested template',
      html`<p>${v} ${html`<b>${v}</b>`}</p>`.text,
      '<p><bdi>&lt;U+202E&gt;abc</bdi><b><bdi>&lt;U+202E&gt;abc</bdi></b></p>',
    ],
  ];
  // (the formatter may break a template's lines: the space between tags is no part of the case)
  for (const [where, got, want] of cases) test(where, () => assert.equal(got.replace(/>\s+</g, '><'), want));

  test("the controls shown are Unicode's bidirectional controls, all of them", () => {
    for (let cp = 0; cp <= 0xffff; cp++) {
      const c = String.fromCharCode(cp);
      assert.equal(ANY_CONTROL.test(c), /\p{Bidi_Control}/u.test(c), `U+${cp.toString(16)}`);
    }
  });

  test('every control is shown, none is left in the markup', () => {
    for (const c of CONTROLS) {
      const out = html`<p>${c}</p>
        <i title="${c}"></i>`.text;
      assert.doesNotMatch(out, ANY_CONTROL, JSON.stringify(c));
      assert.match(out, /&lt;U\+[0-9A-F]{4}&gt;deliaf/);
    }
  });
});

let browser: Browser | undefined;
let l: Lab | undefined;
const dbs = missing ? undefined : await hubDatabases();

before(async () => {
  if (missing) return;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

after(async () => {
  await browser?.close();
  await l?.hub.stop();
  await dbs?.stop();
});

/**
 * What Chromium made of a page: its text, and the text nodes holding right-to-left letters or a
 * shown control that no <bdi> isolates (a page title, an option and a form field are their own lines).
 */
async function unisolated(page: Page): Promise<{ text: string; loose: string[] }> {
  const text = await page.innerText('body');
  const loose = (await page.evaluate(`(() => {
    const out = [];
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      const t = n.textContent ?? '';
      if (!/[\\u0590-\\u08ff]|<U\\+/.test(t)) continue;
      if (!n.parentElement?.closest('bdi, option, textarea')) out.push(n.parentElement?.tagName + ': ' + t);
    }
    return out;
  })()`)) as string[];
  return { text, loose };
}

test('bidi controls a gateway reports cannot reorder the page, in a real browser', { skip: missing }, async () => {
  l = await lab(dbs!.kinds[0]!, {});
  const added = await call(l.url, 'POST', '/api/v1/gateways', {
    token: l.admin,
    body: { id: 'gw-1', labels: { site: `\u202E${RTL}`, room: RTL } },
  });
  assert.equal(added.status, 201, added.text);
  const at = new Date().toISOString();
  const all = CONTROLS.join(' ') + ` ${RTL}`;
  const st = status({
    labels: Object.fromEntries(CONTROLS.map((c, i) => [`${c}${i}`, `${c} ${RTL}`])),
    applied: { commit: sha(1), at },
    lastAttempted: { commit: sha(2), at, reason: `\u202E${RTL}` as 'applied' },
    conditions: [{ type: 'Ready', status: 'False', reason: `\u202E${RTL}` as 'applied', message: all, since: at }],
    lastError: { at, message: all },
    bad: [{ commit: sha(2), kind: `\u2067${RTL}` as 'invalid', reason: all, at }],
    components: [{ key: `\u202Ek`, type: `\u202E${RTL}`, version: `\u202E${RTL}` }],
    containers: [
      { app: RTL, service: `\u202Es`, image: `\u202E${RTL}`, state: 'running', health: RTL, commit: sha(1) },
    ],
    // The version stands in the middle of a line of the hub's own words: "rollgate <v> · 38 MiB resident · …".
    version: `\u202E${RTL}`,
  });
  const events = [
    verdict('rolled-back', sha(2), { reason: 'health-failed', to: sha(1), detail: all }),
    verdict('applied', sha(1), { detail: `\u202E${RTL}` }),
  ];
  const sent = await call(l.url, 'POST', '/api/v1/reports', {
    token: String(added.body['token']),
    body: report('gw-1', st, events),
  });
  assert.equal(sent.status, 200, sent.text);

  const page = await browser!.newPage();
  await page.goto(`${l.url}/login`);
  await page.fill('input[name=token]', l.reader);
  await page.click('button[type=submit]');
  for (const path of [
    '/',
    '/gateways',
    `/gateways?label=${encodeURIComponent(`room=${RTL}`)}`,
    '/gateways/gw-1',
    `/commits/${sha(2)}`,
    '/events',
    '/versions',
  ]) {
    if (path !== '/') await page.goto(l.url + path);
    const seen = await unisolated(page);
    assert.doesNotMatch(seen.text, ANY_CONTROL, `${path}: a control reached the page as a control`);
    assert.deepEqual(seen.loose, [], `${path}: right-to-left text outside a <bdi>`);
    if (path !== '/gateways' && path !== '/') assert.ok(seen.text.includes(HEBREW), `${path}: the word is shown`);
  }

  // On the gateway's page the words after the version stay after it, read left to right.
  await page.goto(`${l.url}/gateways/gw-1`);
  // The left edge of each of the line's words, as Chromium laid it out (run in the page).
  const order = (await page.evaluate(`(() => {
    const p = [...document.querySelectorAll('main p')].find((e) => e.textContent?.includes('event(s)'));
    const x = (text) => {
      const walk = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) {
        const i = (n.textContent ?? '').indexOf(text);
        if (i < 0) continue;
        const r = document.createRange();
        r.setStart(n, i);
        r.setEnd(n, i + text.length);
        return r.getBoundingClientRect().left;
      }
      return NaN;
    };
    return { rollgate: x('rollgate'), version: x('${HEBREW}'), resident: x('MiB resident'), lost: x('lost') };
  })()`)) as Record<'rollgate' | 'version' | 'resident' | 'lost', number>;
  assert.ok(
    order.rollgate < order.version && order.version < order.resident && order.resident < order.lost,
    `the line reads in order: ${JSON.stringify(order)}`,
  );
  await page.close();
});
