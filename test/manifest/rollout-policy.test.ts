// The rollout policy of rollgate.yaml (`rollout:`, per fleet and per target): the example's
// policy resolves with its defaults, and every rule a policy can break is one row of a table —
// the rollgate.yaml written, the problem expected, and the line and column it must point at.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  DEFAULT_GATE,
  DirectorySource,
  FleetRepoError,
  formatProblem,
  readFleet,
  validateFleetRepo,
  type Problem,
} from '../../src/manifest/index.js';
import type { FleetRollout } from '../../src/model/rollout.js';
import { ExampleCopy, FLEET } from '../helpers/example-copy.js';
import { tempDir } from '../helpers/fixtures.js';

const HEAD = 'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  s: {}\n';

/** A fleet file with one catch-all target and the given lines after it. */
function fleetDir(tail: string, target = ''): string {
  const dir = tempDir('rollgate-rollout-policy-');
  writeFileSync(
    join(dir, FLEET),
    `${HEAD}targets:\n  - name: all\n    match: { any: true }\n    system: s\n${target}${tail}`,
  );
  return dir;
}

async function problemsOf(dir: string): Promise<Problem[]> {
  try {
    await readFleet(new DirectorySource(dir));
  } catch (err) {
    if (err instanceof FleetRepoError) return err.problems;
    throw err;
  }
  throw new Error('expected the fleet file to be rejected, but it was read');
}

const MIN = 60_000;

describe('the example fleet repo carries a rollout policy', () => {
  test('it resolves: a canary wave by label with its own gate, then percent waves on the policy gate', async () => {
    const { rollout } = await readFleet(new DirectorySource(new ExampleCopy().dir));
    const policyGate = { ...DEFAULT_GATE, successPercent: 95, soakMs: 15 * MIN, timeoutMs: 240 * MIN };
    assert.deepEqual(rollout, {
      targets: {},
      fleet: {
        waves: [
          {
            name: 'canary',
            select: { kind: 'match', match: { labels: { ring: 'canary' } } },
            gate: { ...policyGate, successPercent: 100, soakMs: 30 * MIN },
          },
          { name: 'early', select: { kind: 'percent', percent: 10 }, gate: policyGate },
          { name: 'half', select: { kind: 'percent', percent: 50 }, gate: policyGate },
          { name: 'everyone', select: { kind: 'percent', percent: 100 }, gate: policyGate },
        ],
      },
    } satisfies FleetRollout);
  });

  test('every target of the example still validates with it', async () => {
    const v = await validateFleetRepo(new DirectorySource(new ExampleCopy().dir));
    assert.deepEqual(v.problems, []);
    assert.ok(v.targets.every((t) => t.desired));
  });

  test('a policy that breaks a rule rejects the commit, for validate and the agent alike', async () => {
    const copy = new ExampleCopy().edit(FLEET, 'success_percent: 95', 'success_percent: 0');
    const v = await validateFleetRepo(new DirectorySource(copy.dir));
    const line =
      copy
        .read(FLEET)
        .split('\n')
        .findIndex((l) => l.includes('success_percent: 0')) + 1;
    assert.deepEqual(
      v.problems.map((p) => [p.file, p.line]),
      [[FLEET, line]],
    );
    assert.match(v.problems[0]!.message, /a gate that can never stop anything/);
  });
});

describe('per-target policies', () => {
  test('a target may have its own waves, or none (its gateways take a rollout target at once)', async () => {
    const dir = tempDir('rollgate-rollout-policy-');
    writeFileSync(
      join(dir, FLEET),
      HEAD +
        'targets:\n' +
        '  - name: lab\n    match: { labels: { site: lab } }\n    system: s\n    rollout: none\n' +
        '  - name: critical\n    match: { labels: { site: plant } }\n    system: s\n' +
        '    rollout:\n      gate: { soak: 2h, timeout: 24h }\n' +
        '      waves:\n        - { name: first, match: { ids: [gw-7] } }\n        - { name: rest, percent: 100 }\n' +
        '  - name: all\n    match: { any: true }\n    system: s\n' +
        'rollout:\n  waves:\n    - percent: 100\n',
    );
    const { rollout } = await readFleet(new DirectorySource(dir));
    const gate = { ...DEFAULT_GATE, soakMs: 120 * MIN, timeoutMs: 24 * 60 * MIN };
    assert.deepEqual(rollout, {
      fleet: { waves: [{ name: 'wave-1', select: { kind: 'percent', percent: 100 }, gate: DEFAULT_GATE }] },
      targets: {
        lab: 'none',
        critical: {
          waves: [
            { name: 'first', select: { kind: 'match', match: { ids: ['gw-7'] } }, gate },
            { name: 'rest', select: { kind: 'percent', percent: 100 }, gate },
          ],
        },
      },
    } satisfies FleetRollout);
  });

  test('no rollout: anywhere is no policy (today: every commit at once)', async () => {
    const { rollout } = await readFleet(new DirectorySource(fleetDir('')));
    assert.deepEqual(rollout, { targets: {} });
  });
});

interface Row {
  name: string;
  /** Lines of rollgate.yaml after the targets (top-level `rollout:` …). */
  tail?: string;
  /** Lines inside the target (indented 4). */
  target?: string;
  /** The problem, at the line (of the full file) whose text contains `at`, at `column`. */
  message: RegExp;
  at: string;
  column: number;
}

const W100 = '    - percent: 100\n';
const ROWS: Row[] = [
  {
    name: 'success 0% on the policy gate: a gate that can never stop anything',
    tail: `rollout:\n  gate: { success_percent: 0 }\n  waves:\n${W100}`,
    message: /success_percent 0 lets the wave pass with no gateway healthy: a gate that can never stop anything/,
    at: 'success_percent: 0',
    column: 28,
  },
  {
    name: "success 0% on a wave's own gate",
    tail: `rollout:\n  waves:\n    - percent: 100\n      gate:\n        success_percent: 0\n`,
    message: /a gate that can never stop anything; give at least 1/,
    at: 'success_percent: 0',
    column: 26,
  },
  {
    name: 'a timeout no longer than the soak: the wave could never pass',
    tail: `rollout:\n  gate:\n    soak: 20m\n    timeout: 20m\n  waves:\n${W100}`,
    message: /wave "wave-1": timeout 20m is not longer than soak 20m.*the wave could never pass/,
    at: 'timeout: 20m',
    column: 14,
  },
  {
    name: "a wave's own timeout under the default soak (15m)",
    tail: `rollout:\n  waves:\n    - name: quick\n      percent: 100\n      gate:\n        timeout: 10m\n`,
    message: /wave "quick": timeout 10m is not longer than soak 15m/,
    at: 'timeout: 10m',
    column: 18,
  },
  {
    name: 'percents that do not grow',
    tail: 'rollout:\n  waves:\n    - { name: a, percent: 20 }\n    - { name: b, percent: 20 }\n' + W100,
    message: /wave "b": percent 20% is not above 20% of wave "a": percents are cumulative/,
    at: 'name: b',
    column: 27,
  },
  {
    name: 'a last percent wave under 100 leaves gateways in no wave',
    tail: 'rollout:\n  waves:\n    - { name: canary, match: { ids: [gw-1] } }\n    - { name: half, percent: 50 }\n',
    message: /the last percent wave \("half"\) takes 50%: it must be percent: 100/,
    at: 'name: half',
    column: 30,
  },
  {
    name: 'canaries alone never reach the rest of the fleet',
    tail: 'rollout:\n  waves:\n    - { name: canary, match: { labels: { ring: canary } } }\n',
    message: /no wave takes the gateways that no match names: end the percent waves with one of percent: 100/,
    at: '- { name: canary',
    column: 5,
  },
  {
    name: 'a wave chosen by both match and percent',
    tail: 'rollout:\n  waves:\n    - name: both\n      match: { ids: [gw-1] }\n      percent: 10\n' + W100,
    message: /wave "both" has both match and percent: a wave is chosen by one of them/,
    at: 'percent: 10',
    column: 7,
  },
  {
    name: 'a wave chosen by nothing',
    tail: 'rollout:\n  waves:\n    - name: nobody\n' + W100,
    message: /wave "nobody" chooses no gateway: give match \(labels or ids\) or percent/,
    at: 'name: nobody',
    column: 7,
  },
  {
    name: 'two waves of one name',
    tail: 'rollout:\n  waves:\n    - { name: w, percent: 10 }\n    - { name: w, percent: 100 }\n',
    message: /wave name "w" is used twice \(first at waves\[0\]\)/,
    at: 'percent: 100',
    column: 15,
  },
  {
    name: 'percent 0 takes no gateway',
    tail: 'rollout:\n  waves:\n    - { name: none, percent: 0 }\n' + W100,
    message: /wave "none": percent 0 takes no gateway/,
    at: 'percent: 0',
    column: 30,
  },
  {
    name: 'a timeout longer than 30 days',
    tail: `rollout:\n  gate: { timeout: 800h }\n  waves:\n${W100}`,
    message: /timeout 800h is longer than 720h \(30 days\), the longest a gate may wait/,
    at: 'timeout: 800h',
    column: 20,
  },
  {
    name: 'silent_after 0s makes every gateway silent',
    tail: `rollout:\n  gate: { silent_after: 0s }\n  waves:\n${W100}`,
    message: /silent_after 0s counts every gateway as not reporting/,
    at: 'silent_after: 0s',
    column: 25,
  },
  {
    name: 'a misspelt gate key (schema)',
    tail: `rollout:\n  gate: { sucess_percent: 90 }\n  waves:\n${W100}`,
    message: /unsupported key "sucess_percent" \(expected one of: success_percent, soak, timeout, on_timeout/,
    at: 'sucess_percent',
    column: 11,
  },
  {
    name: 'a timeout action that does not exist (schema)',
    tail: `rollout:\n  gate: { on_timeout: continue }\n  waves:\n${W100}`,
    message: /expected one of "pause", "abort", got string "continue"/,
    at: 'on_timeout',
    column: 23,
  },
  {
    name: 'a wave match of any: true (schema): that is percent: 100',
    tail: 'rollout:\n  waves:\n    - { name: all, match: { any: true } }\n' + W100,
    message: /unsupported key "any" \(expected one of: ids, labels\)/,
    at: 'name: all, match',
    column: 29,
  },
  {
    name: "a target's rollout that is neither a policy nor none",
    target: '    rollout: nonee\n',
    message: /expected "none", got string "nonee"/,
    at: 'rollout: nonee',
    column: 14,
  },
  {
    name: "a target's own policy breaks a rule: placed in the target",
    target: '    rollout:\n      waves:\n        - { name: t, percent: 40 }\n',
    message: /the last percent wave \("t"\) takes 40%: it must be percent: 100/,
    at: 'name: t',
    column: 31,
  },
  {
    name: 'a misspelt key in a target\'s own gate: that problem alone, not also "expected none"',
    target: '    rollout:\n      gate: { sucess_percent: 90 }\n      waves: [{ percent: 100 }]\n',
    message: /unsupported key "sucess_percent" \(expected one of: success_percent, soak/,
    at: 'sucess_percent',
    column: 15,
  },
  {
    name: 'a policy without waves (schema)',
    tail: 'rollout:\n  gate: { soak: 1m }\n',
    message: /missing required key "waves"/,
    at: 'gate: { soak',
    column: 3,
  },
];

describe('every rule of a rollout policy, at file:line:column', () => {
  for (const row of ROWS)
    test(row.name, async () => {
      const dir = fleetDir(row.tail ?? '', row.target ?? '');
      const problems = await problemsOf(dir);
      const text = readFileSync(join(dir, FLEET), 'utf8');
      const line = text.split('\n').findIndex((l) => l.includes(row.at)) + 1;
      assert.ok(line > 0, `test setup: "${row.at}" is not in the file`);
      assert.equal(problems.length, 1, problems.map(formatProblem).join('\n'));
      const p = problems[0]!;
      assert.match(p.message, row.message);
      assert.deepEqual([p.file, p.line, p.column], [FLEET, line, row.column], formatProblem(p));
    });
});
