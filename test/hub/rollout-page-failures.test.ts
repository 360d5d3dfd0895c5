// A rollout's failures grouped by reason list the first 20 gateways of each reason, whatever the
// wave's size, with a link to all of them: the page, the API and `rollgate fleet rollout` ("and N
// more"); the link's page lists every gateway of that wave and reason, and refuses a wave or track the
// rollout does not have. 25 canaries rolled back for one reason, 3 for another, on a real fleet repo
// whose rollout `rollgate rollout start` wrote.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { generateKey } from 'openpgp';
import { ROLLOUT_FAILURES_LISTED } from '../../src/hub/defaults.js';
import type { RolloutView } from '../../src/hub/rollout-view.js';
import { rollgate } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { call, hubDatabases, lab, type Lab } from '../helpers/hub.js';

const root = tempDir('rollgate-hub-failures-');
const dbs = await hubDatabases();
const labs: Lab[] = [];
after(async () => {
  for (const l of labs) await l.hub.stop();
  await dbs.stop();
});

const repo = join(root, 'repo');
mkdirSync(repo);
const git = (...args: string[]) =>
  execFileSync('git', args, {
    cwd: repo,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com',
    },
  })
    .toString()
    .trim();

function commit(version: string): string {
  writeFileSync(
    join(repo, 'manifest.yaml'),
    `api_version: mender/v1\nkind: update_manifest\nversion: ${version}\ncomponent_types: {}\ncomponents: []\n`,
  );
  writeFileSync(
    join(repo, 'rollgate.yaml'),
    'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  edge:\n    manifest: manifest.yaml\ntargets:\n' +
      '  - name: all\n    match: { labels: { role: gw } }\n    system: edge\n' +
      'rollout:\n  gate: { success_percent: 100, soak: 1m, timeout: 1h, max_failures: 1000 }\n' +
      '  waves:\n    - { name: canary, match: { labels: { ring: canary } } }\n' +
      '    - { name: everyone, percent: 100 }\n',
  );
  git('add', '-A');
  git('commit', '-q', '-m', `edge ${version}`);
  return git('rev-parse', 'HEAD');
}

const HEALTH = 'rolled-back (health-failed): probe web failed';
const OTHER = 'rolled-back (start-failed): image missing';
const ids = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`);

test("a wave's failures list 20 gateways per reason, with a link to all of them", async () => {
  git('init', '-q', '-b', 'main');
  const base = commit('v1');
  const target = commit('v2');
  const { privateKey } = await generateKey({
    type: 'ecc',
    curve: 'ed25519Legacy',
    userIDs: [{ name: 'Promoter', email: 'promoter@example.com' }],
    format: 'armored',
  });
  const keyFile = join(root, 'promoter.key');
  writeFileSync(keyFile, privateKey, { mode: 0o600 });
  const start = await rollgate(
    ...['rollout', 'start', '--repo', repo, '--signing-key', keyFile, '--target', target, '--base', base],
    ...['--id', 'cap', '--by', 'alice', '--why', 'v2'],
  );
  assert.equal(start.code, 0, start.out + start.err);

  const health = ids('gw-h', 25);
  const other = ids('gw-o', 3);
  const gateways = Object.fromEntries([...health, ...other, 'gw-ok'].map((id) => [id, { role: 'gw', ring: 'canary' }]));
  const l = await lab(dbs.kinds[0]!, gateways, { repo: { repo, ref: 'main', intervalMs: 3_600_000 } });
  labs.push(l);
  // Each canary reported back on the base after rolling the target back (the hub's rows, as ingest leaves them).
  await l.db.query(`update gateways set applied_commit = $1, last_seen = now(), healthy = 'True'`, [base]);
  for (const [group, reason, detail] of [
    [health, 'health-failed', 'probe web failed'],
    [other, 'start-failed', 'image missing'],
  ] as const)
    await l.db.query(
      `insert into gateway_commits (commit, gateway_id, outcome, verdict, reason, detail, at, received_at)
       select $1, id, 'rolled-back', 'rolled-back', $2, $3, now(), now() from unnest($4::text[]) id`,
      [target, reason, detail, group],
    );
  await l.hub.fleetRepo!.refresh();

  // The API: whole counts, the first 20 gateways of a reason.
  const api = await l.get('/api/v1/rollouts/cap');
  assert.equal(api.status, 200, api.text);
  const canary = (api.body as unknown as RolloutView).tracks[0]!.waves[0]!;
  assert.equal(canary.failed, 28);
  assert.deepEqual(
    canary.failures.map((f) => [f.reason, f.count, f.gateways.length]),
    [
      [HEALTH, 25, ROLLOUT_FAILURES_LISTED],
      [OTHER, 3, 3],
    ],
  );
  assert.deepEqual(canary.failures[0]!.gateways, health.slice(0, 20), 'the first by id');

  // The page: 20 links and "all 25" under the long reason; the short one lists its 3 and no link.
  const page = await call(l.url, 'GET', '/rollouts/cap', { token: l.reader });
  assert.equal(page.status, 200);
  const groups = [...page.text.matchAll(/<details data-testid="failure-fleet-1">([^]*?)<\/details>/g)].map(
    (m) => m[1]!,
  );
  assert.equal(groups.length, 2, page.text);
  const links = (h: string) => [...h.matchAll(/href="\/gateways\/([^"]+)"/g)].map((m) => m[1]!);
  assert.deepEqual(links(groups[0]!), health.slice(0, 20));
  assert.deepEqual(links(groups[1]!), other);
  assert.doesNotMatch(groups[1]!, /class="all"/);
  const all = /<a class="all" href="([^"]+)">all 25 →<\/a>/.exec(groups[0]!);
  assert.ok(all, groups[0]);

  // The link lists every gateway of that wave and reason.
  const href = all[1]!.replaceAll('&amp;', '&');
  assert.match(href, /^\/rollouts\/cap\/failed\?track=fleet&wave=1&reason=/);
  const full = await call(l.url, 'GET', href, { token: l.reader });
  assert.equal(full.status, 200, full.text);
  assert.match(full.text, /data-testid="failed-count">25</);
  assert.deepEqual(links(full.text), health);
  const none = await call(l.url, 'GET', '/rollouts/cap/failed?track=fleet&wave=1&reason=gone', { token: l.reader });
  assert.equal(none.status, 200);
  assert.match(none.text, /No gateway of this wave fails for this reason now/);
  for (const [q, status] of [
    ['track=fleet&wave=3&reason=x', 404],
    ['track=target:nope&wave=1&reason=x', 404],
    ['track=fleet&wave=1', 400],
    ['track=fleet&wave=0&reason=x', 400],
  ] as const)
    assert.equal((await call(l.url, 'GET', `/rollouts/cap/failed?${q}`, { token: l.reader })).status, status, q);
  assert.equal((await call(l.url, 'GET', href)).status, 303, 'readers only: to the login');

  // The terminal: the same 20, then how many more.
  const tokenFile = join(root, 'reader.token');
  writeFileSync(tokenFile, l.reader + '\n');
  const cli = await rollgate('fleet', 'rollout', 'cap', '--hub', l.url, '--token-file', tokenFile);
  assert.equal(cli.code, 0, cli.err);
  const line = cli.out.split('\n').find((x) => x.includes(HEALTH));
  assert.equal(line?.trim(), `25 x ${HEALTH}: ${health.slice(0, 20).join(', ')}, and 5 more`);
  assert.match(cli.out, new RegExp(`^ +3 x ${OTHER.replace(/[()]/g, '\\$&')}: ${other.join(', ')}$`, 'm'));
});
