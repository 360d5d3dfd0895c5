/** True for a fleet repo given as an http(s) URL rather than a local path. */
export const isUrl = (s: string): boolean => /^https?:\/\//.test(s);
