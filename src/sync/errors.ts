import { redactUrl } from '../base/url.js';
import type { GitAuth } from './auth.js';

export type SyncErrorKind =
  | 'auth'
  | 'not-found'
  | 'unreachable'
  | 'server'
  | 'timeout'
  | 'protocol'
  | 'corrupt'
  /** A fetch larger than the limit: the commit itself is at fault, and it is refused. */
  | 'too-large';

/** A sync failure in the user's terms; `retryable` says whether backing off can help. */
export class SyncError extends Error {
  constructor(
    readonly kind: SyncErrorKind,
    message: string,
    readonly retryable: boolean,
    /** For `too-large`: the commit that could not be fetched. */
    readonly commit?: string,
  ) {
    super(message);
    this.name = 'SyncError';
  }
}

/**
 * A 401 or 403 from the git server, said for what was sent: no credentials at all (say how to give
 * them), or the ones from a file (say which file to check).
 */
export function refusedAccess(url: string, status: number, auth: GitAuth | undefined): SyncError {
  const where = redactUrl(url);
  if (!auth)
    return new SyncError(
      'auth',
      `the git server at ${where} needs credentials (HTTP ${status}) and none were given: put a token in a file ` +
        'and give it with --auth-token-file (repo.tokenFile in the agent\'s configuration), or "user:password" ' +
        'with --auth-basic-file (repo.basicAuthFile)',
      false,
    );
  const what = auth.kind === 'token' ? 'the token' : 'the user:password';
  return new SyncError(
    'auth',
    status === 401
      ? `the git server at ${where} refused ${what} in ${auth.file} (HTTP 401): check that it is valid and current`
      : `the git server at ${where} refused access (HTTP 403) with ${what} in ${auth.file}: check that it may ` +
          'read this repository',
    false,
  );
}
