// What a URL says that every stage must treat alike: whether a fleet repo is given as a URL, whether
// a URL carries credentials (they would end up in the state directory, in logs and in git history),
// and the URL as it may be shown (credentials masked).

/** True for a fleet repo given as an http(s) URL rather than a local path. */
export const isUrl = (s: string): boolean => /^https?:\/\//.test(s);

/** True for a URL that carries a user name or password (`https://user:token@host/...`). */
export function hasCredentials(url: string): boolean {
  try {
    const u = new URL(url);
    return u.username !== '' || u.password !== '';
  } catch {
    return false;
  }
}

export const CREDENTIALS_IN_URL =
  'carries credentials (user:password@), which would end up in the state directory, in logs and in git ' + 'history';

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
