// How the commands write commit ids and the optional parts of a line.

/** A commit id as people read it: 12 hex digits; `none` for no commit. */
export const c12 = (c: string | undefined): string => (c ? c.slice(0, 12) : 'none');

/** ` text` when the value is there, else nothing. */
export const when = <T>(v: T | undefined, text: (v: T) => string): string =>
  v === undefined || v === '' ? '' : ` ${text(v)}`;
