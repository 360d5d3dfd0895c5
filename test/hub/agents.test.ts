// Real agents as processes reporting to a real hub process: three gateways take a commit, one of
// them rolls the next back; the hub, `rollgate fleet` and the page in headless Chromium show what
// happened; the hub is killed and restarted while the agents go on (nothing lost, nothing twice);
// a gateway stopped goes silent, is told by webhook, and is back when it starts again.

import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import type { CommitSummary, FleetEvent, GatewayDetail } from '../../src/hub/index.js';
import type { AgentProcess } from '../helpers/agent-process.js';
import { rollgate } from '../helpers/cli.js';
import { requireMenderTools } from '../helpers/devices.js';
import { WebhookReceiver } from '../helpers/hub.js';
import { HubLab } from '../helpers/hub-lab.js';

const CHROMIUM = '/usr/bin/chromium';
const missing = requireMenderTools() ?? (existsSync(CHROMIUM) ? undefined : `${CHROMIUM} (Debian package chromium)`);
if (missing && process.env['CI'] === 'true') throw new Error(`CI=true and ${missing} is missing`);
if (missing) process.stderr.write(`\n!!! SKIPPING the hub tests with real agents: ${missing} is missing\n\n`);

const GWS = ['gw-a', 'gw-b', 'gw-c'];
const lab = new HubLab(GWS);
const hook = new WebhookReceiver();
const agents = new Map<string, AgentProcess>();
let browser: Browser | undefined;
const commits: string[] = [];

before(async () => {
  if (missing) return;
  await hook.start();
  await lab.init(hook.url);
});

after(async () => {
  await Promise.all([...agents.values()].map((a) => a.stop()));
  await lab.hub?.kill('SIGTERM');
  await browser?.close();
  await lab.server?.close();
  await hook.stop().catch(() => {});
});

const commitOf = (sha: string) => `/api/v1/commits/${sha}`;
const counts = (c: CommitSummary) => [c.applied, c.healthy, c.rolledBack, c.rejected, c.pending, c.silent];

/** What a gateway's agent recorded, as the hub should have it: verdicts that are reported, oldest first. */
function recorded(a: AgentProcess): string[] {
  return a
    .state()!
    .history.filter((h) => h.event !== 'unchanged' && h.event !== 'stopping')
    .map((h) => `${h.event} ${h.commit ?? ''}`);
}

async function onHub(gw: string): Promise<string[]> {
  const d = await lab.api<GatewayDetail>(`/api/v1/gateways/${gw}?history=500`);
  return d.history
    .filter((e: FleetEvent) => e.kind === 'verdict')
    .reverse()
    .map((e) => `${e.verdict} ${e.commit ?? ''}`);
}

test('three gateways take a commit; the hub counts each once', { skip: missing }, async () => {
  lab.write('v1');
  commits.push(lab.commit('v1 everywhere'));
  await lab.startHub();
  for (const gw of GWS) agents.set(gw, lab.agent(gw));
  const c = await lab.until<CommitSummary>('v1 applied on 3', commitOf(commits[0]!), (x) => x.healthy === 3);
  assert.deepEqual(counts(c), [3, 3, 0, 0, 0, 0]);
  const g = await lab.api<GatewayDetail>('/api/v1/gateways/gw-a');
  assert.equal(g.applied, commits[0]);
  assert.deepEqual(g.status?.components, [{ key: 'R1', type: 'rtos', version: 'rtos-v1' }]);
  assert.equal(g.conditions.Ready, 'True');
  assert.deepEqual(g.labels, { ring: 'canary' });
});

test(
  'a commit that fails health on one gateway: rolled back there, and the hub says why',
  { skip: missing },
  async () => {
    lab.write('v2', ['gw-c']);
    commits.push(lab.commit('v2, and gw-c cannot pass its health check'));
    const c = await lab.until<CommitSummary>(
      'v2 settled',
      commitOf(commits[1]!),
      (x) => x.applied === 2 && x.rolledBack === 1,
    );
    assert.deepEqual(counts(c), [2, 2, 1, 0, 0, 0]);
    assert.deepEqual(
      c.reasons.map((r) => [r.outcome, r.reason, r.count]),
      [['rolled-back', 'health-failed', 1]],
    );
    assert.equal(c.failures[0]!.gateway, 'gw-c');
    const gwc = await lab.api<GatewayDetail>('/api/v1/gateways/gw-c');
    assert.equal(gwc.applied, commits[0], 'gw-c went back to v1');
    assert.equal(gwc.conditions.Ready, 'False');
    // The webhook told of the rollback, in words.
    const end = Date.now() + 20_000;
    while (!hook.received.some((h) => h.body['kind'] === 'rolled-back') && Date.now() < end)
      await new Promise((r) => setTimeout(r, 100));
    const told = hook.received.find((h) => h.body['kind'] === 'rolled-back');
    assert.ok(told, 'a rolled-back webhook arrived');
    assert.equal(told.body['gateway'], 'gw-c');
    assert.match(
      String(told.body['text']),
      new RegExp(`gw-c rolled back commit ${commits[1]!.slice(0, 12)} \\(health-failed`),
    );

    // The CLI reads the same.
    const cli = ['--hub', lab.hubUrl, '--token-file', lab.readerTokenFile];
    const json = await rollgate('fleet', 'commit', commits[1]!.slice(0, 9), ...cli, '--output', 'json');
    assert.equal(json.code, 0, json.err);
    assert.deepEqual(counts(JSON.parse(json.out) as CommitSummary), [2, 2, 1, 0, 0, 0]);
    const human = await rollgate('fleet', 'commit', commits[1]!.slice(0, 9), ...cli);
    assert.match(human.out, /applied 2 \(healthy 2\), rolled back 1, rejected 0, pending 0, silent 0/);
    assert.match(human.out, /1 {2}rolled-back health-failed/);
    assert.match(human.out, /gw-c {2}rolled-back \(health-failed\)/);
    const status = await rollgate('fleet', 'status', ...cli);
    assert.match(status.out, /gateways {3}3: 3 reporting, 0 silent, 0 never reported/);
    assert.match(status.out, /Ready {6}True 2, False 1, Unknown 0/);
    const noToken = await rollgate('fleet', 'status', '--hub', lab.hubUrl);
    assert.equal(noToken.code, 1);
    assert.match(noToken.err, /a reader or admin token is needed: --token-file/);
  },
);

test('the page shows the fleet in a real browser, after logging in', { skip: missing }, async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const page = await browser.newPage();
  await page.goto(lab.hubUrl + '/');
  assert.match(page.url(), /\/login$/, 'no token, no page');
  await page.fill('input[name=token]', 'rgr_wrong');
  await page.click('button[type=submit]');
  assert.match((await page.textContent('[role=alert]')) ?? '', /not a reader or admin token/);
  await page.fill('input[name=token]', lab.readerToken);
  await page.click('button[type=submit]');
  const text = async (id: string) => (await page.textContent(`[data-testid="${id}"]`))?.trim();
  assert.equal(await text('gateways-total'), '3');
  assert.equal(await text('gateways-reporting'), '3');
  assert.equal(await text('cond-Ready-True'), '2');
  assert.equal(await text('cond-Ready-False'), '1');
  const v2 = commits[1]!.slice(0, 12);
  assert.equal(await text(`commit-${v2}-applied`), '2');
  assert.equal(await text(`commit-${v2}-rolledBack`), '1');
  assert.equal(await text(`commit-${v2}-pending`), '0');
  assert.match((await page.textContent('#failures')) ?? '', /gw-c.*rolled-back.*health-failed/s);
  // One gateway's detail, one click away.
  await page.click('#gateways a[href="/gateways/gw-c"]');
  assert.equal(await text('gateway-id'), 'gw-c');
  assert.equal(await text('gw-applied'), commits[0]!.slice(0, 12));
  assert.match((await page.textContent('#components')) ?? '', /R1.*rtos.*rtos-v1/s);
  assert.match((await page.textContent('#history')) ?? '', /rolled-back/);
  assert.match((await page.textContent('#errors')) ?? '', /health-failed/);
  // And one commit's page: the reasons, grouped.
  await page.goto(`${lab.hubUrl}/commits/${commits[1]}`);
  assert.equal(await text('reason-rolled-back-health-failed'), '1');
  const missingPage = await page.goto(`${lab.hubUrl}/gateways/gw-nowhere`);
  assert.equal(missingPage?.status(), 404);
  assert.match((await page.textContent('[role=alert]')) ?? '', /no gateway gw-nowhere/);
  await page.close();
});

test('the hub killed while agents report, and restarted: nothing lost, nothing twice', { skip: missing }, async () => {
  await lab.hub!.kill('SIGKILL');
  lab.write('v3');
  commits.push(lab.commit('v3 everywhere'));
  for (const gw of GWS) await agents.get(gw)!.until(`${gw} on v3`, (s) => s.applied?.commit === commits[2]);
  for (const gw of GWS) {
    const a = agents.get(gw)!;
    await a.waitForLog(/the hub at .* is out of reach/);
    assert.ok(a.running, 'a dead hub stops no agent');
    assert.equal(a.state()!.lastGood?.commit, commits[2]);
  }
  // On the gateway, `rollgate status` and the metrics say the hub is out of reach and what waits.
  const st = await rollgate('status', '--state-dir', lab.stateDir('gw-a'));
  assert.match(st.out, new RegExp(`fleet hub +${lab.hubUrl}: out of reach since .*; [1-9]\\d* event\\(s\\) waiting`));
  const metrics = await (await fetch(await agents.get('gw-a')!.metricsUrl())).text();
  assert.match(metrics, /rollgate_report_hub_reachable 0/);
  assert.match(metrics, /rollgate_report_outbox_events [1-9]/);
  await lab.startHub();
  const c = await lab.until<CommitSummary>(
    'v3 on all after the restart',
    commitOf(commits[2]!),
    (x) => x.healthy === 3,
  );
  assert.deepEqual(counts(c), [3, 3, 0, 0, 0, 0]);
  for (const gw of GWS) {
    const a = agents.get(gw)!;
    await lab.until<GatewayDetail>(`${gw} caught up`, `/api/v1/gateways/${gw}?history=500`, () => true);
    const outbox = join(lab.stateDir(gw), 'outbox');
    const end = Date.now() + 20_000;
    while (readdirSync(outbox).some((f) => f.endsWith('.json')) && Date.now() < end)
      await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      readdirSync(outbox).filter((f) => f.endsWith('.json')),
      [],
      `${gw}: the outbox is delivered`,
    );
    assert.deepEqual(await onHub(gw), recorded(a), `${gw}: the hub has every verdict the agent recorded, once`);
    await a.waitForLog(/the hub answers again/);
  }
  const st2 = await rollgate('status', '--state-dir', lab.stateDir('gw-a'), '--output', 'json');
  const report = (
    JSON.parse(st2.out) as { agent: { report: { waiting: number; outage?: unknown; lastDelivered: string } } }
  ).agent.report;
  assert.equal(report.waiting, 0);
  assert.equal(report.outage, undefined);
  assert.ok(report.lastDelivered);
});

test('a gateway that stops reporting goes silent, is told of, and comes back', { skip: missing }, async () => {
  await agents.get('gw-b')!.stop();
  await lab.until<{ items: { id: string }[] }>('gw-b silent', '/api/v1/gateways?stale=true', (p) =>
    p.items.some((g) => g.id === 'gw-b'),
  );
  const end = Date.now() + 20_000;
  while (!hook.received.some((h) => h.body['kind'] === 'silent') && Date.now() < end)
    await new Promise((r) => setTimeout(r, 100));
  const told = hook.received.find((h) => h.body['kind'] === 'silent');
  assert.deepEqual(
    hook.received.filter((h) => h.body['kind'] === 'silent').map((h) => h.body['gateway']),
    ['gw-b'],
    'only gw-b: a hub that was down itself calls none of the others silent when it starts again',
  );
  assert.match(String(told?.body['text']), /gw-b stopped reporting: last heard from at/);
  const v3 = await lab.api<CommitSummary>(commitOf(commits[2]!));
  assert.equal(v3.healthy, 2, 'a silent gateway is not counted healthy');
  // The page lists it under "Stopped reporting".
  const page = await browser!.newPage();
  await page.goto(lab.hubUrl + '/login');
  await page.fill('input[name=token]', lab.readerToken);
  await page.click('button[type=submit]');
  assert.equal((await page.textContent('[data-testid="gateways-silent"]'))?.trim(), '1');
  assert.match((await page.textContent('#silent')) ?? '', /gw-b/);
  await page.close();
  agents.set('gw-b', lab.agent('gw-b'));
  const back = await lab.until<GatewayDetail>('gw-b back', '/api/v1/gateways/gw-b', (g) => !g.silent);
  assert.deepEqual(
    back.history.filter((e) => e.kind !== 'verdict').map((e) => e.kind),
    ['back', 'silent'],
  );
});
