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
