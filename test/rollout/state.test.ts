// rollgate-rollout.yaml: a valid state reads; every rule of the state on its own, and every rule
// of the state against its target's policy, is one row — the file, the problem, its line and column.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_GATE, FleetRepoError, formatProblem, type Problem } from '../../src/manifest/index.js';
import type { FleetRollout, RolloutPolicy } from '../../src/model/rollout.js';
import { parseRolloutState, ROLLOUT_FILE, stateAgainstPolicy } from '../../src/rollout/index.js';

const BASE = 'a'.repeat(40);
const TARGET = 'b'.repeat(40);
const OLD_BAD = 'c'.repeat(40);

const head = (over: { base?: string; target?: string; state?: string } = {}) =>
  'apiVersion: rollgate/v1\nkind: Rollout\nid: edge-v2\nsalt: 5b0f3c9a\n' +
  `base: ${over.base ?? BASE}\ntarget: ${over.target ?? TARGET}\nstate: ${over.state ?? 'rolling'}\n`;

const FULL =
  head() +
  'waves:\n' +
  '  fleet:\n' +
  '    - { opened: 2026-11-03T10:00:00Z }\n' +
  '    - { opened: 2026-11-03T11:00:00Z, threshold: 0.104, resumed: 2026-11-03T12:00:00.5Z }\n' +
  '  targets:\n' +
  '    plants: [{ opened: 2026-11-03T10:00:00Z }]\n' +
  'bad:\n' +
  `  - { commit: ${OLD_BAD}, rollout: edge-v1, reason: "api down on 3 canaries" }\n` +
  'steps:\n' +
  '  - { at: 2026-11-03T10:00:00Z, by: alice@example.com, action: start, why: release v2, track: fleet, wave: 0 }\n' +
  '  - at: 2026-11-03T11:00:00Z\n' +
  '    by: promoter@hub-1\n' +
  '    action: open\n' +
  '    why: canary gate passed\n' +
  '    wave: 1\n' +
  '    evidence: { decision: advance, members: 3, counted: 3, healthy: 3, failed: 0 }\n';

function problems(text: string): Problem[] {
  try {
    parseRolloutState(new TextEncoder().encode(text));
  } catch (err) {
    if (err instanceof FleetRepoError) return err.problems;
    throw err;
  }
  throw new Error('expected the rollout state to be rejected, but it was read');
}

describe('a valid rollout state', () => {
  test('reads whole, typed', () => {
    const { state } = parseRolloutState(new TextEncoder().encode(FULL));
    assert.deepEqual(state.waves.fleet[1], {
      opened: '2026-11-03T11:00:00Z',
      threshold: 0.104,
      resumed: '2026-11-03T12:00:00.5Z',
    });
    assert.deepEqual(state.waves.targets, { plants: [{ opened: '2026-11-03T10:00:00Z' }] });
    assert.equal(state.bad[0]!.reason, 'api down on 3 canaries');
    assert.equal(state.steps[1]!.evidence?.healthy, 3);
  });

  test('without waves, bad or steps: empty lists, nothing opened', () => {
    const { state } = parseRolloutState(new TextEncoder().encode(head()));
    assert.deepEqual([state.waves, state.bad, state.steps], [{ fleet: [], targets: {} }, [], []]);
  });
});

const ROWS: { name: string; text: string; message: RegExp; at: string; column: number }[] = [
  {
    name: 'the target is the base',
    text: head({ target: BASE }),
    message: /target is the base a{12}: there is nothing to roll out/,
    at: 'target:',
    column: 9,
  },
  {
    name: 'the base is a bad commit',
    text: head({ base: OLD_BAD }) + `bad:\n  - { commit: ${OLD_BAD}, reason: broke }\n`,
    message: /base c{12} is listed under bad/,
    at: 'base:',
    column: 7,
  },
  {
    name: 'a rolling rollout of a bad commit: never rolled out again',
    text: head() + `bad:\n  - { commit: ${TARGET}, reason: health failed on canaries }\n`,
    message: /target b{12} is a bad commit \(bad\[0\]: health failed on canaries\): a bad commit is never rolled out/,
    at: 'target:',
    column: 9,
  },
  {
    name: 'an aborted rollout whose target is not listed as bad (it could be tried again)',
    text: head({ state: 'aborted' }),
    message: /an aborted rollout's target b{12} must be listed under bad/,
    at: 'state:',
    column: 8,
  },
  {
    name: 'a bad commit listed twice',
    text: head() + `bad:\n  - { commit: ${OLD_BAD}, reason: x }\n  - { commit: ${OLD_BAD}, reason: y }\n`,
    message: /commit c{12} is listed as bad twice \(first at bad\[0\]\)/,
    at: 'reason: y',
    column: 15,
  },
  {
    name: 'steps out of time order',
    text:
      head() +
      'steps:\n  - { at: 2026-11-03T10:00:00Z, by: a, action: start, why: go }\n' +
      '  - { at: 2026-11-03T09:00:00Z, by: a, action: pause, why: wait }\n',
    message: /2026-11-03T09:00:00Z is earlier than the step before it/,
    at: 'action: pause',
    column: 11,
  },
  {
    name: 'a date that does not exist',
    text: head() + 'waves:\n  fleet:\n    - { opened: 2026-02-30T10:00:00Z }\n',
    message: /2026-02-30T10:00:00Z is not a date/,
    at: 'opened:',
    column: 17,
  },
  {
    name: 'resumed before the wave opened',
    text: head() + 'waves:\n  fleet:\n    - { opened: 2026-11-03T10:00:00Z, resumed: 2026-11-03T09:00:00Z }\n',
    message: /resumed 2026-11-03T09:00:00Z is before the wave opened/,
    at: 'resumed:',
    column: 48,
  },
  {
    name: 'a state that does not exist (schema)',
    text: head({ state: 'running' }),
    message: /expected one of "rolling", "paused", "aborted", "complete", got string "running"/,
    at: 'state:',
    column: 8,
  },
  {
    name: 'an abbreviated commit (schema): gateways compare full ids',
    text: head({ target: 'b'.repeat(12) }),
    message: /expected a full commit id \(40 or 64 lowercase hex digits\), got string "b{12}"/,
    at: 'target:',
    column: 9,
  },
  {
    name: 'a salt too short to share a fleet out (schema)',
    text: head().replace('salt: 5b0f3c9a', 'salt: ab'),
    message: /expected 8 to 128 letters, digits, '\.', '_' or '-', got string "ab"/,
    at: 'salt:',
    column: 7,
  },
  {
    name: 'a threshold outside (0, 1] (schema)',
    text: head() + 'waves:\n  fleet:\n    - { opened: 2026-11-03T10:00:00Z, threshold: 1.5 }\n',
    message: /threshold must be <= 1/,
    at: 'threshold:',
    column: 50,
  },
];

describe('every rule of the state on its own, at file:line:column', () => {
  for (const r of ROWS)
    test(r.name, () => {
      const ps = problems(r.text);
      const line = r.text.split('\n').findIndex((l) => l.includes(r.at)) + 1;
      assert.ok(line > 0, `test setup: "${r.at}" is not in the file`);
      assert.equal(ps.length, 1, ps.map(formatProblem).join('\n'));
      assert.match(ps[0]!.message, r.message);
      assert.deepEqual(
        [ps[0]!.file, ps[0]!.line, ps[0]!.column],
        [ROLLOUT_FILE, line, r.column],
        formatProblem(ps[0]!),
      );
    });
});

describe('the state against the policy of its target', () => {
  const wave = (name: string, select: RolloutPolicy['waves'][number]['select']) => ({
    name,
    select,
    gate: DEFAULT_GATE,
  });
  const POLICY: RolloutPolicy = {
    waves: [
      wave('canary', { kind: 'match', match: { labels: { ring: 'canary' } } }),
      wave('early', { kind: 'percent', percent: 10 }),
      wave('half', { kind: 'percent', percent: 50 }),
      wave('everyone', { kind: 'percent', percent: 100 }),
    ],
  };
  const FLEET: FleetRollout = { fleet: POLICY, targets: { lab: 'none', plants: POLICY } };
  const opened = (...ws: string[]) => ws.map((w) => `    - { opened: 2026-11-03T10:00:00Z${w} }\n`).join('');
  const rows: { name: string; waves: string; fleet?: FleetRollout; message?: RegExp; at?: string }[] = [
    { name: 'waves opened as the policy has them: no problem', waves: `  fleet:\n${opened('', ', threshold: 0.11')}` },
    {
      name: 'a wave opened of a fleet policy the target does not have',
      waves: `  fleet:\n${opened('')}`,
      fleet: { targets: {} },
      message: /opens waves of the fleet, but rollgate\.yaml of the target b{12} gives the fleet no waves/,
      at: 'fleet:',
    },
    {
      name: 'a wave opened of a target whose rollout is none',
      waves: `  targets:\n    lab:\n${opened('')}`,
      message: /opens waves of target "lab", but .* gives target "lab" no waves$/,
      at: 'lab:',
    },
    {
      name: 'a wave opened of a target with no rollout of its own',
      waves: `  targets:\n    depot:\n${opened('')}`,
      message: /gives target "depot" no waves \(no rollout of its own\)/,
      at: 'depot:',
    },
    {
      name: 'more waves opened than the policy has',
      waves: `  fleet:\n${opened('', '', '', '', '')}`,
      message: /opens 5 waves of the fleet, whose policy has 4/,
      at: 'fleet:',
    },
    {
      name: 'a threshold on a wave chosen by match',
      waves: `  fleet:\n${opened(', threshold: 0.5')}`,
      message: /wave 1 \("canary"\) is chosen by match: it has no threshold/,
      at: 'threshold',
    },
    {
      name: 'a threshold on the 100% wave',
      waves: `  fleet:\n${opened('', '', '', ', threshold: 0.9')}`,
      message: /wave 4 \("everyone"\) takes every gateway left: it has no threshold/,
      at: 'threshold',
    },
    {
      name: "a threshold under the wave before's: gateways would move back",
      waves: `  fleet:\n${opened('', ', threshold: 0.2', ', threshold: 0.15')}`,
      message: /threshold 0\.15 of wave 3 \("half"\) is below 0\.2 of a wave before it/,
      at: 'threshold: 0.15',
    },
    {
      name: "a threshold under the previous wave's percent",
      waves: `  fleet:\n${opened('', '', ', threshold: 0.05')}`,
      message: /threshold 0\.05 of wave 3 \("half"\) is below 0\.1 of a wave before it/,
      at: 'threshold: 0.05',
    },
  ];
  for (const r of rows)
    test(r.name, () => {
      const text = head() + 'waves:\n' + r.waves;
      const parsed = parseRolloutState(new TextEncoder().encode(text));
      const ps = stateAgainstPolicy(parsed, r.fleet ?? FLEET);
      if (!r.message) {
        assert.deepEqual(ps, []);
        return;
      }
      assert.equal(ps.length, 1, ps.map(formatProblem).join('\n'));
      assert.match(ps[0]!.message, r.message);
      const line = text.split('\n').findIndex((l) => l.includes(r.at!)) + 1;
      assert.equal(ps[0]!.line, line, formatProblem(ps[0]!));
    });
});
