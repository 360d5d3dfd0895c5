// The page renders every value a gateway controls as text. Markup is planted in every field of a
// report that takes free text (labels, condition reasons and messages, errors, bad commits,
// components, containers, versions, event details) and in an admin's label values; the real hub
// serves the pages to headless Chromium, which must find the planted words as text and none of
// them as elements. Ids and commits, which the hub refuses unless plain, are planted straight into
// the page's renderer, which must escape them all the same.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { CommitSummary, FleetSummary, GatewayDetail } from '../../src/hub/index.js';
import { renderCommitPage, renderFleetPage, renderGatewayPage } from '../../src/hub/page.js';
import { call, hubDatabases, lab, report, sha, status, verdict, type Lab } from '../helpers/hub.js';

const CHROMIUM = '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} (Debian package chromium)`;
if (missing && process.env['CI'] === 'true') throw new Error(`CI=true and ${missing} is missing`);
if (missing) process.stderr.write(`\n!!! SKIPPING the hub page tests: ${missing} is missing\n\n`);

/** Markup that would be an element, an attribute or a link if it were not escaped; each short enough for any field. */
const PLANTED = [
  '<b>bold</b>',
  '"><img src=x>',
  '</textarea><textarea>',
  'javascript:alert(1)',
  "'><svg onload=1>",
  '</td><h1>h</h1>',
  '<a href=javascript:1>a</a>',
  '<!--',
];
const all = PLANTED.join(' ');
/** Elements none of the hub's own markup has; any of them in a page came from a planted value. */
// The hub's own script (/assets/local-time.js) is the one script element a page may have.
const FOREIGN =
  'img, svg, textarea, h1, script:not([src="/assets/local-time.js"]), iframe, b:not([data-testid]), ' +
  'a[href^="javascript"], a:not([href])';

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

/** What Chromium sees: the foreign elements it built, and whether every planted text is there as text. */
async function inspect(page: Page): Promise<{ foreign: string[]; text: string }> {
  const foreign = await page.$$eval(FOREIGN, (els) => els.map((e) => e.outerHTML.slice(0, 120)));
  const text = await page.innerText('body');
  return { foreign, text };
}

function assertText(where: string, seen: { foreign: string[]; text: string }, words: string[]): void {
  assert.deepEqual(seen.foreign, [], `${where}: planted markup became elements`);
  for (const w of words) assert.ok(seen.text.includes(w), `${where}: ${JSON.stringify(w)} is shown as text`);
}

test('markup a gateway reports is shown as text on every page, in a real browser', { skip: missing }, async () => {
  l = await lab(dbs!.kinds[0]!, {});
  const added = await call(l.url, 'POST', '/api/v1/gateways', {
    token: l.admin,
    body: { id: 'gw-1', labels: Object.fromEntries(PLANTED.map((p, i) => [`by-admin-${i}`, p])) },
  });
  assert.equal(added.status, 201, added.text);
  const token = String(added.body['token']);
  const at = new Date().toISOString();
  const st = status({
    labels: Object.fromEntries(PLANTED.map((p, i) => [`${p}${i}`, p])),
    applied: { commit: sha(1), at },
    lastAttempted: { commit: sha(2), at, reason: PLANTED[0] as 'applied' },
    conditions: PLANTED.slice(0, 4).map((p, i) => ({
      type: (['Ready', 'Healthy', 'Stalled', 'Reconciling'] as const)[i]!,
      status: 'False' as const,
      reason: p as 'applied',
      message: all,
      since: at,
    })),
    lastError: { at, message: all },
    bad: [{ commit: sha(2), kind: PLANTED[1] as 'invalid', reason: all, at }],
    components: PLANTED.map((p) => ({ key: p, type: p, version: p })),
    containers: PLANTED.map((p) => ({ app: p, service: p, image: p, state: p.slice(0, 32), health: p, commit: p })),
    version: PLANTED[2]!,
  });
  const events = [
    verdict('rolled-back', sha(2), { reason: 'health-failed', to: sha(1), detail: all }),
    verdict('applied', sha(1), { detail: all }),
  ];
  const sent = await call(l.url, 'POST', '/api/v1/reports', { token, body: report('gw-1', st, events) });
  assert.equal(sent.status, 200, sent.text);
  assert.equal((sent.body['accepted'] as string[]).length, 2);

  const page = await browser!.newPage();
  await page.goto(`${l.url}/login`);
  await page.fill('input[name=token]', l.reader);
  await page.click('button[type=submit]');
  assertText('the fleet', await inspect(page), PLANTED);
  await page.goto(`${l.url}/gateways/gw-1`);
  assert.equal((await page.textContent('[data-testid="gateway-id"]'))?.trim(), 'gw-1');
  assertText('the gateway', await inspect(page), PLANTED);
  await page.goto(`${l.url}/commits/${sha(2)}`);
  assertText('the commit', await inspect(page), PLANTED);
  await page.close();
});

test('ids and commits the hub would refuse are escaped by the renderer all the same', { skip: missing }, async () => {
  const at = new Date().toISOString();
  const commit = (p: string): CommitSummary => ({
    commit: p,
    firstSeen: at,
    gateways: 1,
    applied: 1,
    healthy: 0,
    rolledBack: 1,
    rejected: 0,
    retrying: 0,
    pending: 0,
    silent: 0,
    movedOn: 0,
    neverSeen: 0,
    reasons: [{ outcome: 'rolled-back', reason: p, count: 1, example: p }],
    failures: [{ gateway: p, commit: p, outcome: 'rolled-back', verdict: 'rolled-back', reason: p, detail: p, at }],
  });
  const gateway = (p: string): GatewayDetail => ({
    id: p,
    labels: { [p]: p },
    createdAt: at,
    lastSeen: at,
    silent: true,
    silentSince: at,
    applied: p,
    lastGood: p,
    head: p,
    lastAttempted: { commit: p, reason: p },
    conditions: { Ready: p as 'True' },
    version: p,
    reports: 1,
    lostEvents: 0,
    commits: [],
    history: [{ seq: '1', gateway: p, id: p, kind: 'verdict', commit: p, to: p, detail: p, at, receivedAt: at }],
    status: {
      ...status(),
      bad: [{ commit: p, kind: p as 'invalid', reason: p, at }],
      containers: [{ app: p, service: p, image: p, state: p, commit: p }],
    },
  });
  const fleet: FleetSummary = {
    gateways: 1,
    neverSeen: 0,
    silent: 1,
    byCondition: {
      Ready: { True: 0, False: 1, Unknown: 0 },
      Healthy: { True: 0, False: 1, Unknown: 0 },
      Stalled: { True: 0, False: 1, Unknown: 0 },
    },
    commits: PLANTED.map(commit),
    silentGateways: PLANTED.map(gateway),
    failures: gateway(PLANTED[0]!).history,
  };
  const page = await browser!.newPage();
  for (const [where, htmlText] of [
    ['fleet', renderFleetPage(fleet, PLANTED.map(gateway))],
    ...PLANTED.map((p) => [`gateway ${p}`, renderGatewayPage(gateway(p))]),
    ...PLANTED.map((p) => [`commit ${p}`, renderCommitPage(commit(p))]),
  ] as [string, string][]) {
    await page.setContent(htmlText);
    const seen = await inspect(page);
    assert.deepEqual(seen.foreign, [], `${where}: planted markup became elements`);
    const hrefs = await page.$$eval('a', (els) => els.map((e) => e.getAttribute('href') ?? ''));
    for (const h of hrefs)
      assert.match(
        h,
        /^\/(gateways\/|commits\/|(gateways|commits|rollouts|events|versions)?([?]|$))/,
        `${where}: every link stays on the hub (${h})`,
      );
  }
  await page.close();
});
