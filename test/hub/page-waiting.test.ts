// What a gateway waits for reaches the hub's page in one line: the report carries the deferral
// (a maintenance window's `waiting for the window that opens at …`), the hub's report schema keeps
// it, and the gateway's page shows it, escaped like every other word a gateway sends. Pure: the
// real hub and Chromium are test/hub/page.test.ts's.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GatewayDetail } from '../../src/hub/index.js';
import { renderGatewayPage } from '../../src/hub/page.js';
import { parseReport } from '../../src/hub/report-schema.js';
import type { Deferral } from '../../src/model/index.js';
import { report, sha, status } from '../helpers/hub.js';

const at = '2026-12-05T12:00:00.000Z';
const deferred: Deferral = {
  commit: sha(2),
  gate: 'window',
  cause: 'window targets[1].window opens 2026-12-06T01:00:00.000Z',
  detail:
    'fetched, waiting for the window that opens at 2026-12-06 02:00 Europe/Berlin (2026-12-06T01:00:00Z) <b>x</b>',
  until: 'the window opens at 2026-12-06 02:00 Europe/Berlin (2026-12-06T01:00:00Z)',
  since: at,
};

test('the report schema keeps the deferral of a gateway status', () => {
  const r = parseReport(JSON.parse(JSON.stringify(report('gw-1', status({ deferred })))));
  assert.ok('report' in r, JSON.stringify(r));
  assert.deepEqual(r.report.status.deferred, deferred);
  const bad = parseReport(
    JSON.parse(JSON.stringify(report('gw-1', status({ deferred: { ...deferred, since: 'x' } })))),
  );
  assert.ok('error' in bad, 'a deferral whose time is not a time is refused like any bad status');
});

test("the gateway's page shows what it waits for in one line, escaped; nothing when it waits for nothing", () => {
  const g = (d?: Deferral): GatewayDetail => ({
    id: 'gw-1',
    labels: {},
    createdAt: at,
    lastSeen: at,
    silent: false,
    reports: 1,
    lostEvents: 0,
    commits: [],
    history: [],
    conditions: {},
    status: status(d ? { deferred: d } : {}),
  });
  const page = renderGatewayPage(g(deferred));
  const line = /<td data-testid="gw-waiting">(.*?)<\/td>/s.exec(page)?.[1];
  assert.ok(line, 'a waiting row');
  assert.match(
    line,
    /at the window gate: fetched, waiting for the window that opens at 2026-12-06 02:00 Europe\/Berlin/,
  );
  assert.match(line, /&lt;b&gt;x&lt;\/b&gt;/, "the gateway's words are text");
  assert.doesNotMatch(renderGatewayPage(g()), /gw-waiting/);
});
