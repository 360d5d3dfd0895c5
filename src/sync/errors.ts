export type SyncErrorKind = 'auth' | 'not-found' | 'unreachable' | 'server' | 'timeout' | 'protocol' | 'corrupt';

/** A sync failure in the user's terms; `retryable` says whether backing off can help. */
export class SyncError extends Error {
  constructor(
    readonly kind: SyncErrorKind,
    message: string,
    readonly retryable: boolean,
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
