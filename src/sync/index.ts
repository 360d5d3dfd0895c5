export { GitSync, fullRef, type GitSyncOptions, type PollResult } from './git-sync.js';
export { SyncError, type SyncErrorKind } from './errors.js';
export type { GitAuth } from './auth.js';
export { resolveRevision } from './revision.js';
export { CREDENTIALS_IN_URL, hasCredentials, isUrl, redactUrl } from '../base/url.js';
export { checkTransport } from './http-client.js';
