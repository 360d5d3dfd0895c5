// Everything the agent lets out is scrubbed of the secrets its process read: log lines (pino's
// output, whatever field carries them), the state file `rollgate status` and `history` read, the
// control socket's answers. Identifiers (commit ids, timestamps, the vocabulary) stay whole.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { callAgent, serveControl } from '../../src/agent/control.js';
import { agentLogger } from '../../src/agent/logger.js';
import { allowPublic } from '../../src/agent/redaction.js';
import { StateStore } from '../../src/agent/state.js';
import { CENSOR, processSecrets } from '../../src/base/redact.js';
import { emptyState, type HistoryEntry } from '../../src/model/index.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';

const dir = tempDir('rollgate-redaction-');
after(() => cleanup(dir));

const TOKEN = 'rgw_9d8f7e6a5b4c3d2e1f';
const PASSWORD = 'pw"with\\quotes-and-$';
/** Hex, and short: it occurs inside commit ids, which must stay whole. */
const HEX = 'beef';
const COMMIT = `${'0123456789abcdef'.repeat(2)}deadbeef`;

processSecrets.add([TOKEN, PASSWORD, HEX, 'gw-secret-site']);
allowPublic({ id: 'gw-secret-site', labels: { site: 'berlin' } });

function noSecrets(text: string): void {
  for (const s of [TOKEN, PASSWORD, JSON.stringify(PASSWORD).slice(1, -1)])
    assert.ok(!text.includes(s), `${JSON.stringify(s)} leaked into:\n${text}`);
}

describe('what the agent lets out is scrubbed of its secrets', () => {
  test('log lines: message, fields, nested fields, an error; the level, time and gateway stay', () => {
    const file = join(dir, 'agent.log');
    const log = agentLogger('debug', 'gw-secret-site', file);
    log.info({ commit: COMMIT, detail: { output: `token=${TOKEN}` } }, `login as gw with ${PASSWORD}`);
    log.warn({ err: new Error(`server echoed Bearer ${TOKEN}`) }, 'poll failed');
    log.error({ headers: { Authorization: `Bearer ${TOKEN}` }, beef: HEX }, `short hex ${HEX} in text`);
    log.flush();
    const text = readFileSync(file, 'utf8');
    noSecrets(text);
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 3, 'one line each, valid JSON');
    assert.deepEqual(
      lines.map((l) => [l['level'], l['gateway']]),
      [
        ['info', 'gw-secret-site'],
        ['warn', 'gw-secret-site'],
        ['error', 'gw-secret-site'],
      ],
      'the gateway id is public even when a secret file repeats it',
    );
    assert.equal(lines[0]!['commit'], COMMIT, 'a commit id is not cut by a short secret inside it');
    assert.equal(lines[0]!['msg'], `login as gw with ${CENSOR}`);
    assert.match(String(lines[2]!['msg']), new RegExp(`short hex \\[redacted\\] in text`));
  });

  test('the state file: reasons, details and errors scrubbed, commits whole; memory keeps the message', async () => {
    const store = await StateStore.open(dir);
    const told: HistoryEntry[][] = [];
    store.onRecorded = async (appended) => void told.push(appended);
    const at = '2026-01-01T00:00:00.000Z';
    await store.replace({
      ...emptyState(),
      applied: { commit: COMMIT, at },
      bad: [{ commit: COMMIT, kind: 'apply-failed', reason: `post_start printed ${TOKEN}`, at }],
      lastError: { at, message: `cannot log in with ${PASSWORD}`, commit: COMMIT },
      conditions: [
        { type: 'Ready', status: 'False', reason: 'rolled-back', message: `hook: ${TOKEN}`, commit: COMMIT, since: at },
      ],
      history: [{ at, event: 'rolled-back', commit: COMMIT, to: COMMIT, detail: `hook printed ${TOKEN}` }],
    });
    const text = readFileSync(join(dir, 'agent-state.json'), 'utf8');
    noSecrets(text);
    const written = JSON.parse(text) as ReturnType<typeof emptyState>;
    assert.equal(written.applied?.commit, COMMIT);
    assert.equal(written.bad[0]!.reason, `post_start printed ${CENSOR}`);
    assert.equal(written.conditions[0]!.reason, 'rolled-back');
    assert.equal(store.current.lastError?.message, `cannot log in with ${PASSWORD}`, 'a repeat is still seen');
    noSecrets(JSON.stringify(told));
    assert.equal(told[0]![0]!.detail, `hook printed ${CENSOR}`, 'the reporter is told what was written');
  });

  test("the control socket's answers (rollgate status, rollgate sync)", async () => {
    const server = await serveControl(dir, {
      sync: async () => ({ reason: 'rejected', commit: COMMIT, detail: `bad value ${PASSWORD}` }),
      live: () => ({ pid: 1, phase: 'idle', lastPoll: { at: 'now', error: `the server said ${TOKEN}` } }),
      forget: async () => ({ forgotten: COMMIT, detail: `was bad for ${PASSWORD}` }),
    });
    try {
      const live = JSON.stringify(await callAgent(dir, 'GET', '/live', 5_000));
      const sync = (await callAgent(dir, 'POST', '/sync', 5_000)) as { commit: string; detail: string };
      noSecrets(live + JSON.stringify(sync));
      assert.match(live, /the server said \[redacted\]/);
      assert.equal(sync.commit, COMMIT);
      assert.equal(sync.detail, `bad value ${CENSOR}`);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
