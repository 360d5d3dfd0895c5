// The board in headless Chromium against real agents reporting to a real hub process: three
// gateways with simulated devices take v1, then v2 fails its health check on one of them, and a
// fourth gateway is added but never started. The test reads the numbers and the versions from the
// pages as an operator sees them, follows a version to its gateways, searches the list with its
// form, checks that the script put the viewer's time zone in the tooltips, and takes screenshots
// (kept in $ROLLGATE_SCREENSHOTS, or a temp dir it names) to be looked at.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import type { CommitSummary } from '../../src/hub/index.js';
import type { AgentProcess } from '../helpers/agent-process.js';
import { requireMenderTools } from '../helpers/devices.js';
import { tempDir } from '../helpers/fixtures.js';
import { HubLab } from '../helpers/hub-lab.js';

const CHROMIUM = '/usr/bin/chromium';
const missing = requireMenderTools() ?? (existsSync(CHROMIUM) ? undefined : `${CHROMIUM} (Debian package chromium)`);
if (missing && process.env['CI'] === 'true') throw new Error(`CI=true and ${missing} is missing`);
if (missing) process.stderr.write(`\n!!! SKIPPING the board in a browser: ${missing} is missing\n\n`);

const RUNNING = ['gw-a', 'gw-b', 'gw-c'];
const lab = new HubLab([...RUNNING, 'gw-spare']);
const agents: AgentProcess[] = [];
let browser: Browser | undefined;
const shots = process.env['ROLLGATE_SCREENSHOTS'] ?? tempDir('rollgate-board-shots-');

before(async () => {
  if (missing) return;
  mkdirSync(shots, { recursive: true });
  await lab.init();
});

after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await lab.hub?.kill('SIGTERM');
  await browser?.close();
  await lab.server?.close();
});

test('an operator reads the fleet, its versions and its failures off the pages', { skip: missing }, async () => {
  lab.write('v1');
  const v1 = lab.commit('v1 everywhere');
  await lab.startHub();
  for (const gw of RUNNING) agents.push(lab.agent(gw));
  await lab.until<CommitSummary>('v1 on 3', `/api/v1/commits/${v1}`, (c) => c.healthy === 3);
  lab.write('v2', ['gw-c']);
  const v2 = lab.commit('v2, failing on gw-c');
  await lab.until<CommitSummary>('v2 settled', `/api/v1/commits/${v2}`, (c) => c.applied === 2 && c.rolledBack === 1);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  // A viewer far from UTC: the script must show their zone.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId: 'Asia/Kolkata' });
  const page = await context.newPage();
  await page.goto(`${lab.hubUrl}/login`);
  await page.fill('input[name=token]', lab.readerToken);
  await page.click('button[type=submit]');
  const text = async (id: string) => (await page.textContent(`[data-testid="${id}"]`))?.trim();

  // The overview: cards, the commit's numbers, its failure grouped.
  assert.equal(await text('gateways-total'), '4');
  assert.equal(await text('gateways-reporting'), '3');
  assert.equal(await text('gateways-never'), '1');
  const two = v2.slice(0, 12);
  assert.equal(await text(`commit-${two}-applied`), '2');
  assert.equal(await text(`commit-${two}-rolledBack`), '1');
  assert.equal(await text(`commit-${two}-pending`), '0', 'the gateway that never reported is pending nowhere');
  assert.equal(await text(`commit-${v1.slice(0, 12)}-applied`), '3');
  assert.equal(await text(`failures-${two}-health-failed`), '1 gateway');
  assert.equal(
    await page.isVisible('#failures a[href="/gateways/gw-c"]'),
    false,
    'the gateways wait behind a disclosure',
  );
  await page.click(`[data-testid="failures-${two}-health-failed"]`);
  assert.equal(await page.isVisible('#failures a[href="/gateways/gw-c"]'), true);
  // The script: the viewer's zone in the tooltips, "updated n s ago" kept.
  const zoned = async () => (await page.getAttribute('[data-testid="updated"] time', 'title')) ?? '';
  for (let i = 0; i < 100 && (await zoned()).endsWith('UTC'); i++) await page.waitForTimeout(100);
  const title = await page.getAttribute('[data-testid="updated"] time', 'title');
  assert.match(title ?? '', /GMT\+5:30|IST/, `the tooltip is in the viewer's zone: ${title}`);
  assert.match((await text('updated'))?.replace(/\s+/g, ' ') ?? '', /^updated \d+ s ago · refresh$/);
  // Colours by meaning: the healthy gateways' Stalled=False is not red; gw-c's Ready=False is.
  const red = await page.$$eval('#gateways td.m-bad', (tds) =>
    tds.map((td) => `${td.closest('tr')?.getAttribute('data-gateway')} ${td.textContent?.trim()}`),
  );
  // gw-c: Ready=False and, after its rollback, Stalled=True; the healthy ones' Stalled=False is not red.
  assert.deepEqual([...new Set(red.map((r) => r.split(' ')[0]))], ['gw-c'], `red is for bad news only: ${red}`);
  assert.ok(red.includes('gw-c False'), String(red));
  await page.screenshot({ path: join(shots, 'overview.png'), fullPage: true });

  // Versions: rtos-v2 on the two that took v2, rtos-v1 on gw-c which went back; a click lists them.
  await page.click('header nav a[href="/versions"]');
  assert.equal(await text('component-rtos-rtos-v2'), '2');
  assert.equal(await text('component-rtos-rtos-v1'), '1');
  await page.screenshot({ path: join(shots, 'versions.png'), fullPage: true });
  await page.click('[data-testid="component-rtos-rtos-v2"] a');
  assert.deepEqual(await page.$$eval('#gateways tr[data-gateway]', (r) => r.map((x) => x.dataset['gateway'])), [
    'gw-a',
    'gw-b',
  ]);
  assert.equal(await text('list-count'), 'showing 1–2 of 2 (of 4 total)');

  // The list's own form: a search and a state.
  await page.goto(`${lab.hubUrl}/gateways`);
  await page.fill('input[name=q]', 'SPARE');
  await page.click('form.filters button[type=submit]');
  assert.equal(await text('list-count'), 'showing 1–1 of 1 (of 4 total)');
  await page.goto(`${lab.hubUrl}/gateways`);
  await page.selectOption('select[name=condition]', 'Ready=False');
  await page.click('form.filters button[type=submit]');
  assert.deepEqual(await page.$$eval('#gateways tr[data-gateway]', (r) => r.map((x) => x.dataset['gateway'])), [
    'gw-c',
  ]);
  await page.screenshot({ path: join(shots, 'gateways.png'), fullPage: true });

  // gw-c's page, and the page of the gateway that never reported.
  await page.click('#gateways a[href="/gateways/gw-c"]');
  assert.equal(await text('gw-cond-Ready'), 'False');
  assert.match((await page.textContent('#labels')) ?? '', /ring\s*main\s*the hub/);
  await page.screenshot({ path: join(shots, 'gateway.png'), fullPage: true });
  await page.goto(`${lab.hubUrl}/gateways/gw-spare`);
  assert.match((await text('connect-config')) ?? '', new RegExp(`url: ${lab.hubUrl.replace(/\./g, '\\.')}`));
  await page.screenshot({ path: join(shots, 'never-seen.png'), fullPage: true });
  await page.goto(`${lab.hubUrl}/commits/${v2}`);
  await page.screenshot({ path: join(shots, 'commit.png'), fullPage: true });
  process.stderr.write(`screenshots of the board: ${shots}\n`);
});
