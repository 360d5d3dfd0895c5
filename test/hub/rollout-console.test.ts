// The hub as an operator console for a staged rollout, every part real: four `rollgate agent`
// processes (two canaries) following the fleet repo on a real Git smart-HTTP server, a real
// `rollgate hub` process that reads that repo (--repo) and holds the promoter's key, and headless
// Chromium. The test reads the canary wave's numbers and the sentence that says why the rollout
// waits from the page, checks that a reader gets no buttons and that forms without the session's
// token, without a reason or from a reader are refused, presses Abort as an admin with a reason,
// and sees the canaries return to the base (their agents' state, and the hub). Last, the git server
// goes away: the page still renders from the last read and says the read failed, and when.
// Screenshots are written to a temporary directory (printed) to be looked at.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { GatewayDetail } from '../../src/hub/index.js';
import { rollgate } from '../helpers/cli.js';
import { requireMenderTools } from '../helpers/devices.js';
import { GATEWAYS, RolloutFleet, rolloutPolicy } from '../helpers/rollout-fleet.js';

const CHROMIUM = '/usr/bin/chromium';
const noBrowser = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} (Debian package chromium)`;
if (noBrowser && process.env['CI'] === 'true') throw new Error(`CI=true and ${noBrowser} is missing`);
const missing = noBrowser ?? requireMenderTools();

const gateways = GATEWAYS.slice(0, 4);
const ids = gateways.map((g) => g.id);
const CANARIES = ['gw-01', 'gw-02'];
const OTHERS = ids.filter((id) => !CANARIES.includes(id));
const shots = mkdtempSync(join(tmpdir(), 'rollgate-console-shots-'));

const fleet = new RolloutFleet(gateways);
let browser: Browser | undefined;
let readerToken = '';

before(async () => {
  if (missing) return;
  fleet.hubArgs = () => [
    '--repo',
    fleet.url,
    '--repo-interval',
    '500ms',
    '--repo-trusted-keys',
    fleet.key.publicFile,
    '--promote-repo',
    fleet.url,
    '--promote-signing-key',
    fleet.keyFile,
    // The loop's own rounds stay out of the way: only the page's buttons act here.
    '--promote-interval',
    '1h',
  ];
  await fleet.init();
  await fleet.hub!.kill('SIGTERM');
  const reader = await rollgate('hub', 'token', 'add', '--role', 'reader', 'viewer', '--data-dir', fleet.hubData);
  assert.equal(reader.code, 0, reader.err);
  readerToken = reader.out.trim();
  await fleet.startHub();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  process.stderr.write(`screenshots of the rollout console: ${shots}\n`);
});

after(async () => {
  await browser?.close();
  if (!missing) await fleet.close();
});

async function login(token: string): Promise<Page> {
  const page = await browser!.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(`${fleet.hubUrl}/login`);
  await page.fill('input[name=token]', token);
  await page.click('button[type=submit]');
  return page;
}

const text = async (page: Page, id: string) => (await page.textContent(`[data-testid="${id}"]`))?.trim() ?? '';

/** Reloads `path` until `test` holds of the page, for at most `ms`. */
async function pageUntil(page: Page, path: string, what: string, test: () => Promise<boolean>, ms = 60_000) {
  const end = Date.now() + ms;
  for (;;) {
    await page.goto(fleet.hubUrl + path);
    if (await test()) return;
    if (Date.now() > end) throw new Error(`the page ${path} never showed ${what}:\n${await page.innerText('body')}`);
    await sleep(500);
  }
}

test(
  'the rollout page: numbers, why it waits, admin-only buttons, abort brings the canaries back',
  { skip: missing },
  async () => {
    fleet.write('v1');
    const v1 = fleet.commit('system v1');
    // The canaries soak for ten minutes: the rollout waits on them, and says so.
    fleet.write('v2', {
      policy: rolloutPolicy({ gate: '{ success_percent: 100, soak: 10m, timeout: 1h, silent_after: 1m }' }),
    });
    const v2 = fleet.commit('system v2, the release');
    const started = await fleet.promoter('start', [
      '--target',
      v2,
      '--base',
      v1,
      '--id',
      'edge-v2',
      '--by',
      'alice@example.com',
      '--why',
      'release v2',
    ]);
    assert.equal(started.code, 0, started.out + started.err);
    for (const id of ids) fleet.startAgent(id);
    await fleet.onCommit(CANARIES, v2);
    await fleet.onCommit(OTHERS, v1);

    const admin = await login(readFileSync(fleet.readerTokenFile, 'utf8').trim());
    await pageUntil(
      admin,
      '/rollouts',
      'the rollout',
      async () => (await admin.$('tr[data-rollout="edge-v2"]')) !== null,
    );
    await admin.screenshot({ path: join(shots, '1-rollouts.png'), fullPage: true });
    await admin.click('tr[data-rollout="edge-v2"] a');
    await pageUntil(
      admin,
      '/rollouts/edge-v2',
      'both canaries soaking',
      async () => (await text(admin, 'wave-fleet-1-soaking')) === '2',
    );
    await admin.screenshot({ path: join(shots, '2-rollout-waits.png'), fullPage: true });
    assert.equal(await text(admin, 'rollout-state'), 'rolling');
    assert.equal(await text(admin, 'wave-fleet-1-members'), '2');
    assert.equal(await text(admin, 'wave-fleet-1-admitted'), '2');
    assert.equal(await text(admin, 'wave-fleet-1-healthy'), '0');
    assert.equal(await text(admin, 'wave-fleet-1-failed'), '0');
    assert.equal(await text(admin, 'wave-fleet-2-admitted'), '0', 'the next wave is not admitted');
    const why = await text(admin, 'rollout-why');
    assert.match(why, /wave 1: .*0 of 2 healthy for the soak, 2 needed/, why);
    assert.match(why, /2 soaking, the first done at/, why);
    assert.equal(await text(admin, 'gate-fleet-decision'), 'wait');
    const body = await admin.innerText('body');
    assert.match(body, /system v2, the release/, 'the target carries its subject line');
    assert.match(body, /release v2/, "the start step's why");
    assert.match(body, /alice@example\.com/, "the start step's who");
    assert.match(body, /Release Manager.*OpenPGP/, 'the step commit is verified against the trusted key');
    assert.ok(await admin.$('svg#timeline polyline'), 'the timeline is drawn');
    const forms = await admin.$$eval('form[data-action]', (fs) => fs.map((f) => f.getAttribute('data-action')));
    assert.deepEqual(forms, ['pause', 'promote', 'abort']);

    // The fleet page names each commit by its subject and marks what the head says the fleet should run.
    await pageUntil(admin, '/', 'the target marked', async () =>
      /head: rolling out/.test((await admin.textContent(`tr[data-commit="${v2}"]`)) ?? ''),
    );
    assert.match((await admin.textContent(`tr[data-commit="${v2}"]`)) ?? '', /system v2, the release/);
    assert.match((await admin.textContent(`tr[data-commit="${v1}"]`)) ?? '', /head: base\s*system v1/);
    await admin.screenshot({ path: join(shots, '2b-fleet-commits.png'), fullPage: true });
    await admin.goto(`${fleet.hubUrl}/rollouts/edge-v2`);

    // A reader sees the same numbers and no buttons; its POST is refused.
    const reader = await login(readerToken);
    await reader.goto(`${fleet.hubUrl}/rollouts/edge-v2`);
    assert.equal(await reader.$$('form[data-action]').then((f) => f.length), 0);
    assert.match(await text(reader, 'no-actions'), /admin/);
    const csrf = await admin.getAttribute('form[data-action=abort] input[name=csrf]', 'value');
    const post = (token: string, form: Record<string, string>) =>
      fetch(`${fleet.hubUrl}/rollouts/edge-v2/abort`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: `rollgate_hub=${token}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      });
    const adminToken = readFileSync(fleet.readerTokenFile, 'utf8').trim();
    assert.equal((await post(readerToken, { csrf: csrf!, why: 'x' })).status, 403, 'a reader may not abort');
    assert.equal((await post(adminToken, { why: 'no form token' })).status, 403, 'a form without the session token');
    assert.equal((await post(adminToken, { csrf: csrf!, why: '  ' })).status, 400, 'a form without a reason');
    assert.equal(fleet.rollout()!.state, 'rolling', 'nothing was written by the refused forms');

    // The admin aborts, with a reason: one signed commit, and every canary goes back to the base.
    await admin.fill('form[data-action=abort] input[name=why]', 'canary latency regressed');
    await admin.click('form[data-action=abort] button');
    await admin.waitForURL(/\/rollouts\/edge-v2$/);
    assert.equal(await text(admin, 'rollout-state'), 'aborted');
    assert.match(await text(admin, 'rollout-why'), /Aborted by tests \(hub admin\) at .*: canary latency regressed/);
    const s = fleet.rollout()!;
    assert.equal(s.state, 'aborted');
    assert.deepEqual(
      s.bad.map((b) => b.commit),
      [v2],
    );
    assert.equal(s.steps.at(-1)!.by, 'tests (hub admin)');
    await fleet.onCommit(ids, v1);
    for (const id of ids) assert.equal(fleet.running(id), 'rtos-v1');
    for (const id of OTHERS) assert.ok(!fleet.tried(id).includes(v2), `${id} never installed the aborted target`);
    await fleet.hubUntil<GatewayDetail>('gw-01 back on the base', '/api/v1/gateways/gw-01', (g) => g.applied === v1);
    await pageUntil(admin, '/rollouts/edge-v2', 'the canaries back on the base', async () =>
      /0 of \d+ gateways on the target, 4 on the base/.test(
        (await admin.getAttribute('svg#timeline', 'aria-label')) ?? '',
      ),
    );
    await admin.screenshot({ path: join(shots, '3-rollout-aborted.png'), fullPage: true });

    // The git server goes away: the page renders from the last read, and says the read failed and when.
    await fleet.server.close();
    await pageUntil(
      admin,
      '/rollouts/edge-v2',
      'the failed read',
      async () => (await admin.$('[data-testid=repo-failed]')) !== null,
    );
    assert.match(
      await text(admin, 'repo-failed'),
      /Reading the fleet repo failed at \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ: .*last read/s,
    );
    assert.equal(await text(admin, 'rollout-state'), 'aborted');
    await admin.screenshot({ path: join(shots, '4-repo-down.png'), fullPage: true });
  },
);
