// The verdict table (src/model/verdicts.ts): the README's vocabulary names every reason and no
// other; the rows keep the rules that hold between their facts; and each row, walked through
// every view derived from it (conditions, `rollgate sync` and `history`, the events sent to the
// hub, the hub's outcome, webhook and failure lists, the report schema, the metrics), says there
// what its row says.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { AgentMetrics } from '../../src/agent/metrics.js';
import { statePath } from '../../src/base/state-dir.js';
import { runHistory } from '../../src/cli/status-command.js';
import { printVerdict, SYNC_EXIT_CODE } from '../../src/cli/sync-command.js';
import { EXIT_ERROR, EXIT_OK, type Io } from '../../src/cli/commands.js';
import { EXIT_ROLLBACK_INCOMPLETE, EXIT_ROLLED_BACK } from '../../src/cli/apply-command.js';
import { FAILED_OUTCOMES, FAILURE_VERDICTS, NOTIFY_KINDS, notifyKindOf, outcomeOf } from '../../src/hub/outcomes.js';
import { parseReport } from '../../src/hub/report-schema.js';
import { chatText, notification } from '../../src/hub/webhook-body.js';
import {
  CONDITION_TYPES,
  emptyState,
  RECONCILE_RESULTS,
  VERDICT_CONDITIONS,
  VERDICT_REASONS,
  VERDICTS,
  withVerdict,
  type AgentState,
  type NotifyingVerdict,
  type ReportEvent,
  type VerdictFacts,
  type VerdictReason,
} from '../../src/model/index.js';
import { reportEvents } from '../../src/report/index.js';
import { projectRoot, tempDir } from '../helpers/fixtures.js';
import { report, status } from '../helpers/hub.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const AT = '2026-11-30T12:00:00.000Z';

function captured(): Io & { text: () => string } {
  let out = '';
  return { out: (s) => (out += s), err: (s) => (out += s), colour: false, text: () => out };
}

/** The reasons the README's "One vocabulary" paragraph names as verdicts, in its order. */
function readmeVerdicts(): string[] {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
  const paragraph = /\*\*One vocabulary\.\*\* Every outcome is a \*verdict\* with one reason from a closed set/;
  const m = new RegExp(`${paragraph.source} \\(([^]*?)\\),\\n`).exec(readme);
  assert.ok(m, 'the README has its "One vocabulary" paragraph listing the verdicts');
  return [...m[1]!.matchAll(/`([a-z-]+)`/g)].map((x) => x[1]!);
}

describe('the verdict table', () => {
  test("the README's verdict vocabulary names every reason in the table, and no other", () => {
    const named = readmeVerdicts();
    assert.deepEqual(
      named.filter((w) => !VERDICT_REASONS.includes(w as VerdictReason)),
      [],
      'named in the README, not in the table',
    );
    assert.deepEqual(
      VERDICT_REASONS.filter((r) => !named.includes(r)),
      [],
      'in the table, not named in the README',
    );
    assert.equal(new Set(named).size, named.length, 'each named once');
  });

  test('each row keeps the rules between its facts', () => {
    for (const r of VERDICT_REASONS) {
      const row: VerdictFacts = VERDICTS[r];
      const c = row.conditions;
      const failed = row.outcome !== null && FAILED_OUTCOMES.includes(row.outcome);
      if (row.quiet)
        assert.ok(Object.keys(c).length === 0 && !row.outcome && !row.notify, `${r}: quiet, so it changes nothing`);
      if (row.notify) assert.ok(failed, `${r}: a webhook tells only of a commit that failed`);
      if (row.bad) assert.ok(c.Ready === 'False' && c.Stalled === 'True', `${r}: a bad commit stalls, not ready`);
      if (row.outcome === 'applied')
        assert.ok(c.Ready === 'True' && c.Healthy === 'True' && row.exit === 'ok', `${r}: applied is ready, ok`);
      if (row.exit === 'rolled-back' || row.exit === 'rollback-incomplete')
        assert.equal(row.outcome, 'rolled-back', `${r}: sync says rolled back only of a rollback`);
      if (row.reconciles !== null) assert.ok(VERDICT_REASONS.includes(row.reconciles as VerdictReason), r);
      assert.equal([...row.mark].length, 1, `${r}: one character in history`);
      assert.ok(row.sync.length > 0, r);
    }
    // sync's exit codes are the ones the README and `rollgate apply` promise.
    assert.deepEqual(SYNC_EXIT_CODE, {
      ok: EXIT_OK,
      error: EXIT_ERROR,
      'rolled-back': EXIT_ROLLED_BACK,
      'rollback-incomplete': EXIT_ROLLBACK_INCOMPLETE,
    });
    assert.equal(EXIT_ROLLED_BACK, 3);
  });

  test('each row, walked through every view derived from it', async () => {
    // `rollgate history` of a state holding one entry of each verdict, newest first.
    const dir = tempDir('rollgate-verdicts-');
    mkdirSync(dir, { recursive: true });
    const at = (i: number) => `2026-11-30T12:${String(i).padStart(2, '0')}:00.000Z`;
    const history = VERDICT_REASONS.map((r, i) => ({ at: at(i), event: r }));
    const state: AgentState = { ...emptyState(), history };
    writeFileSync(statePath(dir, 'state'), JSON.stringify(state));
    const hist = captured();
    assert.equal(await runHistory({ stateDir: dir, output: 'human', limit: '100' }, hist), EXIT_OK);
    const histLines = hist.text().trimEnd().split('\n').reverse();

    const metrics = await new AgentMetrics().registry.metrics();
    const help = /^# HELP rollgate_reconciles_total Reconciles, by verdict \((.*)\)\.$/m.exec(metrics);
    assert.ok(help, metrics);

    for (const [i, r] of VERDICT_REASONS.entries()) {
      const row = VERDICTS[r];
      // conditions
      assert.deepEqual(VERDICT_CONDITIONS[r], row.conditions, r);
      const set = withVerdict([], { reason: r, commit: A }, AT);
      assert.deepEqual(
        Object.fromEntries(set.map((c) => [c.type, c.status])),
        row.conditions,
        `${r}: withVerdict sets the row's conditions`,
      );
      assert.ok(set.every((c) => c.reason === r && CONDITION_TYPES.includes(c.type)));

      // rollgate sync
      const io = captured();
      const code = printVerdict({ reason: r, commit: A }, 'human', io);
      assert.equal(code, SYNC_EXIT_CODE[row.exit], `${r}: sync's exit code`);
      assert.equal(io.text(), `${row.sync}: commit ${A.slice(0, 12)}\n`, `${r}: what sync prints`);

      // rollgate history
      assert.equal(histLines[i], `${row.mark} ${history[i]!.at}  ${r}`, `${r}: its line in history`);

      // the events sent to the hub
      const events = reportEvents([{ at: AT, event: r, commit: A }], emptyState());
      assert.equal(events.length, row.quiet ? 0 : 1, `${r}: sent to the hub unless quiet`);

      // the hub: the report schema takes it, its outcome, webhook, failure lists
      const ev: ReportEvent = { id: `e-${i}`, at: AT, verdict: r, commit: A, to: B, reason: 'health-failed' };
      const parsed = parseReport(report('gw-1', status(), [ev]));
      assert.ok(!('error' in parsed), `${r}: the hub takes the report`);
      assert.deepEqual(parsed.refused, [], `${r}: the hub takes the event`);
      assert.equal(outcomeOf(r), row.outcome ?? undefined, `${r}: the hub's outcome`);
      assert.equal(FAILURE_VERDICTS.includes(r), row.outcome === 'rolled-back' || row.outcome === 'rejected', r);
      assert.equal(notifyKindOf(r), row.notify ? r : undefined, `${r}: its webhook kind`);
      assert.equal(NOTIFY_KINDS.includes(r as NotifyingVerdict), row.notify !== null, `${r}: may be subscribed to`);
      if (row.notify) {
        const n = notification(r as NotifyingVerdict, 'gw-1', ev);
        const words = { gateway: 'gw-1', commit: A.slice(0, 12), to: B.slice(0, 12), because: ' (health-failed)' };
        assert.equal(n.kind, r);
        assert.equal(n.text, chatText(row.notify(words)), `${r}: the webhook's words`);
      }

      // the metrics
      assert.ok(row.reconciles === null || RECONCILE_RESULTS.includes(row.reconciles), `${r}: its label is listed`);
    }
    assert.deepEqual(help[1]!.split(', '), [...RECONCILE_RESULTS], 'the help names every label');
    assert.deepEqual(
      [...RECONCILE_RESULTS].sort(),
      [...new Set(VERDICT_REASONS.map((r) => VERDICTS[r].reconciles).filter((x) => x !== null))].sort(),
    );
    assert.deepEqual(NOTIFY_KINDS.at(-1), 'silent', 'the hub adds its own kind');
  });
});
