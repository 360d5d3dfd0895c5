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

/** Removes credentials from a URL before it appears in a message or a log. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '***';
      u.password = '';
    }
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//***@');
  }
}
