// A test reporter for Node's runner that writes one JSON object of totals, for scripts/run-tests.mjs to add up
// across its runs. Node's own summary counts neither a skipped suite (its tests never start) nor a suite whose
// own code or hook failed, so a run could skip or break a whole file and still read "skipped 0, fail 0".

export default async function* totals(source) {
  const t = { tests: 0, passed: 0, failed: 0, cancelled: 0, skipped: 0, skippedSuites: 0, todo: 0 };
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { data } = event;
    const suite = data.details?.type === 'suite';
    const failure = data.details?.error?.failureType;
    if (suite) {
      // A suite is counted only when it stands for tests that did not report themselves.
      if (data.skip !== undefined) {
        t.tests++;
        t.skipped++;
        t.skippedSuites++;
      } else if (event.type === 'test:fail' && failure !== 'subtestsFailed') {
        t.tests++;
        t.failed++;
      }
      continue;
    }
    t.tests++;
    if (data.todo !== undefined) t.todo++;
    else if (data.skip !== undefined) t.skipped++;
    else if (event.type === 'test:pass') t.passed++;
    else {
      t.failed++;
      if (failure === 'cancelledByParent') t.cancelled++;
    }
  }
  yield JSON.stringify(t) + '\n';
}
