// A test reporter for Node's runner that writes one JSON object of totals, for scripts/run-tests.mjs to add up
// across its runs. Node's own summary counts neither a skipped suite (its tests never start) nor a suite whose
// own code or hook failed, so a run could skip or break a whole file and still read "skipped 0, fail 0".
// It also keeps each failure's name, file and first lines of error, for the run's last lines: a failure
// in the plain part is otherwise a quarter of an hour of output above the end of the run.

/** The first lines of what failed: the assertion's message, not the runner's wrapper around it. */
function firstLines(error) {
  const cause = error?.cause ?? error;
  const text = String(cause?.message ?? cause ?? 'no error message').trim();
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return (
    lines
      .slice(0, 8)
      .map((l) => (l.length > 300 ? `${l.slice(0, 300)}…` : l))
      .join('\n') + (lines.length > 8 ? `\n… (${lines.length - 8} more lines above, in the test's own output)` : '')
  );
}

export default async function* totals(source) {
  const t = { tests: 0, passed: 0, failed: 0, cancelled: 0, skipped: 0, skippedSuites: 0, todo: 0, failures: [] };
  const failure = (data) =>
    t.failures.push({
      name: data.name,
      file: data.file ?? '',
      line: data.line,
      error: firstLines(data.details?.error),
    });
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { data } = event;
    const suite = data.details?.type === 'suite';
    const failureType = data.details?.error?.failureType;
    if (suite) {
      // A suite is counted only when it stands for tests that did not report themselves.
      if (data.skip !== undefined) {
        t.tests++;
        t.skipped++;
        t.skippedSuites++;
      } else if (event.type === 'test:fail' && failureType !== 'subtestsFailed') {
        t.tests++;
        t.failed++;
        failure(data);
      }
      continue;
    }
    t.tests++;
    if (data.todo !== undefined) t.todo++;
    else if (data.skip !== undefined) t.skipped++;
    else if (event.type === 'test:pass') t.passed++;
    else {
      t.failed++;
      if (failureType === 'cancelledByParent') t.cancelled++;
      failure(data);
    }
  }
  yield JSON.stringify(t) + '\n';
}
