export { Outbox } from './outbox.js';
export { HubError, postJson } from './post.js';
export { Reporter, reportsUrl, type ReporterOptions } from './reporter.js';
export { reportEvents } from './events.js';
