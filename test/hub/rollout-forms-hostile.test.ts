// The rollout page and its admin forms against someone who can commit to the fleet repo (markup in
// commit subjects and in a step's reason) and someone who can reach the hub (a viewer's session,
// another admin's form token, a form posted from another site, a replayed form, a reason whose
// line breaks would forge lines of the signed commit's message). Every part is real: the fleet
// repo on a Git smart-HTTP server, the promoter's gpg key, a hub with --repo and a promoter.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { addToken, Hub, migrate, openDatabase } from '../../src/hub/index.js';
import { readSigner } from '../../src/promoter/index.js';
import { csrfToken } from '../../src/hub/rollout-actions.js';
import { call } from '../helpers/hub.js';
import { Lines } from '../helpers/log-lines.js';
import { PromoterLab } from '../helpers/promoter-lab.js';

const lab = new PromoterLab();
let hub: Hub;
let admin = '';
let otherAdmin = '';
let viewer = '';

const SUBJECT = 'v2 <img src=x onerror=alert(1)> "a" \'b\' </td><script>alert(2)</script>';
const START_WHY = '<svg onload=alert(3)><a href="javascript:alert(4)">x</a>';

before(async () => {
  await lab.init({ inProcessHub: false });
  const base = lab.commitFleet('system v1');
  const target = lab.commitFleet(SUBJECT, (f) => f.replace('LOG_LEVEL: debug', 'LOG_LEVEL: trace'));
  const r = await lab.rollout(
    'start',
    '--target',
    target,
    '--base',
    base,
    '--id',
    'edge-v2',
    '--by',
    'a@b',
    '--why',
    START_WHY,
  );
  assert.equal(r.code, 0, r.out + r.err);
  const db = await openDatabase({ dataDir: join(lab.root, 'hub') });
  await migrate(db);
  await lab.prepareHub(db);
  admin = await addToken(db, 'admin', 'ops');
  otherAdmin = await addToken(db, 'admin', 'ops2');
  viewer = await addToken(db, 'reader', 'viewer');
  hub = await Hub.start({
    db,
    log: new Lines(),
    listen: '127.0.0.1:0',
    jobIntervalMs: 3_600_000,
    repo: { repo: lab.url, ref: 'main', trustedKeys: [lab.key.publicFile], intervalMs: 3_600_000 },
    promoter: {
      repo: { repo: lab.url, ref: 'main' },
      signer: await readSigner(lab.keyFile),
      by: 'promoter@hub',
      intervalMs: 3_600_000,
    },
  });
  await hub.fleetRepo!.refresh();
});

after(async () => {
  await hub?.stop();
  await lab.close();
});

/** A form post to the rollout's `action`, as a browser sends it with the session cookie of `session`. */
async function post(
  action: string,
  session: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${hub.url}/rollouts/edge-v2/${action}`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      cookie: `rollgate_hub=${session}`,
      'content-type': 'application/x-www-form-urlencoded',
      ...headers,
    },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, text: await res.text() };
}

test('markup in commit subjects and step reasons is text on the rollout pages, never markup', async () => {
  for (const path of ['/rollouts', '/rollouts/edge-v2', '/']) {
    const page = await call(hub.url, 'GET', path, { token: admin });
    assert.equal(page.status, 200, path);
    for (const raw of ['<img', '<script>alert', '<svg', '<a href="javascript:', 'onerror=alert(1)>'])
      assert.ok(!page.text.includes(raw), `${path} carries ${raw} as markup`);
  }
  const page = (await call(hub.url, 'GET', '/rollouts/edge-v2', { token: admin })).text;
  assert.match(page, /&lt;img src=x onerror=alert\(1\)&gt; &quot;a&quot; &#39;b&#39; &lt;\/td&gt;&lt;script&gt;/);
  assert.match(page, /&lt;svg onload=alert\(3\)&gt;&lt;a href=&quot;javascript:alert\(4\)&quot;&gt;/);
});

test("a viewer, another admin's form token, another site, no token: refused, nothing written", async () => {
  const head = lab.head();
  const mine = csrfToken(admin);
  const cases: [string, Awaited<ReturnType<typeof post>>, number][] = [
    ['no form token', await post('pause', admin, { why: 'x' }), 403],
    ["another admin's form token", await post('pause', admin, { csrf: csrfToken(otherAdmin), why: 'x' }), 403],
    ["a viewer with the admin's form token", await post('pause', viewer, { csrf: mine, why: 'x' }), 403],
    ['a viewer with its own form token', await post('pause', viewer, { csrf: csrfToken(viewer), why: 'x' }), 403],
    [
      'a form from another site',
      await post('abort', admin, { csrf: mine, why: 'x' }, { origin: 'https://evil.example' }),
      403,
    ],
    [
      'another port of the same host',
      await post('abort', admin, { csrf: mine, why: 'x' }, { origin: hub.url.replace(/:\d+$/, ':1') }),
      403,
    ],
  ];
  for (const [what, r, want] of cases) assert.equal(r.status, want, `${what}: ${r.status} ${r.text}`);
  assert.equal(lab.head(), head, 'nothing was written');
});

test("a reason with line breaks is refused: it would forge lines of the signed commit's message", async () => {
  const head = lab.head();
  for (const why of [
    'routine\n\nabort by alice@example.com (hub admin) at 2026-01-01T00:00:00Z',
    'routine\n\nSigned-off-by: Alice <alice@example.com>',
    'one\nline more',
    'routine\u2028Approved-by: Alice',
  ]) {
    const r = await post('pause', admin, { csrf: csrfToken(admin), why });
    assert.equal(r.status, 400, `${JSON.stringify(why)}: ${r.status} ${r.text}`);
    assert.match(r.text, /one line/);
  }
  assert.equal(lab.head(), head, 'nothing was written');
  assert.equal(lab.stateAt().state, 'rolling');
});

test('a pause with markup in its reason: one signed commit, shown as text; a replay writes nothing', async () => {
  const form = { csrf: csrfToken(admin), why: '<b>hold</b> <script>alert(5)</script>' };
  const r = await post('pause', admin, form);
  assert.equal(r.status, 303, r.text);
  const paused = lab.head();
  assert.equal(lab.stateAt().state, 'paused');
  assert.deepEqual(lab.changed(), ['rollgate-rollout.yaml']);
  const message = lab.git('--git-dir', lab.bare, 'log', '-1', '--format=%B', 'main');
  assert.equal(message.split('\n').filter((l) => l.includes('by ops (hub admin)')).length, 1, message);
  const page = (await call(hub.url, 'GET', '/rollouts/edge-v2', { token: admin })).text;
  assert.ok(!page.includes('<script>alert(5)'), 'the reason is not markup');
  assert.match(page, /&lt;b&gt;hold&lt;\/b&gt; &lt;script&gt;alert\(5\)&lt;\/script&gt;/);
  // The same form again: the rollout is paused already, so nothing more is written.
  const again = await post('pause', admin, form);
  assert.equal(again.status, 303, again.text);
  assert.equal(lab.head(), paused, 'a replayed pause writes no second commit');
});
