export { Outbox, writeOutboxEvents } from './outbox.js';
export { HubError, postJson } from './post.js';
export { Reporter, reportsUrl, type ReporterOptions, type ReportingState } from './reporter.js';
export { reportEvents } from './events.js';
