export { Outbox, readRecordedMark, writeOutboxEvents, writeRecordedMark } from './outbox.js';
export { HubError, postJson } from './post.js';
export { Reporter, reportsUrl, type ReporterOptions, type ReportingState } from './reporter.js';
export { entryKey, recordedMark, reportEvents, unrecorded, type RecordedMark } from './events.js';
