// The last line of defence for secrets: the values this process read from the gateway's secret
// files (the variables file, gateway secret files, registry passwords, the git token or password,
// the hub token) are registered here by the code that reads them, and everything the process
// writes for people or other machines (log lines, the state file, the control socket's answers,
// reports to the hub, the CLI's output) is scrubbed through here before it leaves. Messages that
// are built with knowledge of where a value came from name the variable instead (src/manifest);
// this catches what such knowledge missed: a container's output, an error of a server, a URL.
//
// Values shorter than MIN_SECRET_LENGTH are not scrubbed by value: a variable "1" or "on" would
// turn every 1 of a timestamp and every "on" of a sentence into a mask, and output nobody can read
// protects nothing. Such values are only kept out where the message knows it is quoting one.

/** Shortest value scrubbed wherever it appears. */
export const MIN_SECRET_LENGTH = 4;
/** What a secret is replaced with. */
export const CENSOR = '[redacted]';
/** A cut secret (a message truncated, output wrapped) is scrubbed when this much of it, and half, is left. */
const MIN_PARTIAL = 6;
/** Values longer than this are looked for as a whole and line by line, never piecewise. */
const MAX_PARTIAL_SOURCE = 256;
/**
 * The most values kept (safety rule 11): files are read again at every reconcile, and a value
 * that changes each time (a rotated token) must not grow the list for months. Those read least
 * recently go first; a value still in a file is read again and stays.
 */
export const MAX_SECRETS = 1000;

/** `s` as a regular expression that matches it literally. */
export const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
/** `s` as it stands inside a JSON string (quotes, backslashes and control characters escaped). */
export const jsonEscaped = (s: string) => JSON.stringify(s).slice(1, -1);

/** The base64 characters that depend only on `bytes` when they start `offset` bytes into a longer text. */
function base64Core(bytes: Buffer, offset: number): string {
  const enc = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
  return enc.slice(Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + bytes.length)) / 6));
}

const unicodeEscape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** Every spelling of `s` that an error, a URL, a header or a JSON document could carry. */
function spellings(s: string): string[] {
  const out = new Set([s, s.normalize('NFC'), s.normalize('NFD')]);
  const json = jsonEscaped(s);
  out.add(json);
  out.add(jsonEscaped(json)); // JSON text inside a JSON string (a server's error body in a log field)
  // JSON as other encoders write it: Go's escapes <, > and & (and U+2028, U+2029); Python's, and
  // most that write ASCII only, every character past ASCII, in UTF-16 units (😀 is \ud83d\ude00).
  out.add(json.replace(/[<>&\u2028\u2029]/g, unicodeEscape));
  const ascii = json.replace(/[^\x20-\x7e]/g, unicodeEscape);
  out.add(ascii);
  out.add(ascii.replace(/\\u[0-9a-f]{4}/g, (m) => `\\u${m.slice(2).toUpperCase()}`));
  const pct = encodeURIComponent(s);
  out.add(pct);
  out.add(pct.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
  out.add(encodeURI(s));
  out.add(new URLSearchParams({ v: s }).toString().slice(2)); // a form: a space is +
  out.add(encodeURIComponent(pct)); // a URL inside a URL's query (a redirect's target)
  const bytes = Buffer.from(s, 'utf8');
  const hex = bytes.toString('hex');
  out.add(hex);
  out.add(hex.toUpperCase());
  const b64 = bytes.toString('base64');
  out.add(b64);
  out.add(b64.replace(/=+$/, ''));
  // Inside a longer encoded text (a basic-auth header, a token in an encoded JSON body) the value
  // starts at any of three offsets; long enough values are found at each.
  if (bytes.length >= 8)
    for (const offset of [0, 1, 2]) {
      const core = base64Core(bytes, offset);
      out.add(core);
      out.add(core.replace(/\+/g, '-').replace(/\//g, '_'));
    }
  return [...out].filter((x) => x.length >= MIN_SECRET_LENGTH);
}

interface Compiled {
  /** Every spelling of every value. */
  re: RegExp;
  /** Values long enough that what a cut leaves of them is told apart. */
  partials: string[];
  /** The last and first MIN_PARTIAL characters of every head and tail of them a cut can leave. */
  headEnds: Set<string>;
  tailStarts: Set<string>;
}

/** Strings under keys it approves are left as they are (commit ids, timestamps, the vocabulary). */
export type KeepValue = (key: string | undefined, value: string) => boolean;

export class Redactor {
  private readonly values = new Set<string>();
  private readonly exempt = new Set<string>();
  private compiled: Compiled | undefined;

  /** The number of values looked for. */
  get size(): number {
    return this.values.size;
  }

  /**
   * Registers secret values; whitespace around them is not part of the value. A value of several
   * lines (a key, a certificate) is looked for whole and line by line.
   */
  add(values: Iterable<string | undefined>): void {
    for (const raw of values) {
      if (raw === undefined) continue;
      const v = raw.trim();
      const parts = v.includes('\n') ? [v, ...v.split(/\r?\n/).map((l) => l.trim())] : [v];
      for (const p of parts) {
        if (p.length < MIN_SECRET_LENGTH || this.exempt.has(p)) continue;
        // Read again: the newest, so the last to go when the list is full.
        if (!this.values.delete(p)) this.compiled = undefined;
        this.values.add(p);
      }
    }
    for (const old of this.values) {
      if (this.values.size <= MAX_SECRETS) break;
      this.values.delete(old);
      this.compiled = undefined;
    }
  }

  /**
   * Values that are public whatever a secret file says (the gateway's id and labels, which it
   * reports anyway): a variable that repeats one of them must not mask it everywhere.
   */
  allow(values: Iterable<string>): void {
    for (const v of values) {
      this.exempt.add(v);
      if (this.values.delete(v)) this.compiled = undefined;
    }
  }

  private compile(): Compiled | undefined {
    if (this.values.size === 0) return undefined;
    if (!this.compiled) {
      const all = new Set<string>();
      for (const v of this.values) for (const s of spellings(v)) all.add(s);
      // Longest first, so a value inside a longer one never leaves the longer one's rest behind.
      const sorted = [...all].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
      const partials = [...this.values].filter((v) => v.length >= 2 * MIN_PARTIAL && v.length <= MAX_PARTIAL_SOURCE);
      const headEnds = new Set<string>();
      const tailStarts = new Set<string>();
      for (const v of partials)
        for (let n = Math.max(MIN_PARTIAL, Math.ceil(v.length / 2)); n < v.length; n++) {
          headEnds.add(v.slice(n - MIN_PARTIAL, n));
          tailStarts.add(v.slice(v.length - n, v.length - n + MIN_PARTIAL));
        }
      this.compiled = { re: new RegExp(sorted.map(escapeRe).join('|'), 'g'), partials, headEnds, tailStarts };
    }
    return this.compiled;
  }

  /** True when `text` holds a registered value in one of its spellings. */
  holds(text: string): boolean {
    const c = this.compile();
    if (!c) return false;
    c.re.lastIndex = 0;
    return c.re.test(text);
  }

  /**
   * `text` with every registered value replaced by CENSOR: as it is, JSON-escaped, percent- or
   * base64-encoded, and the head or tail of one cut at the start or end of a line.
   */
  scrub(text: string): string {
    const c = this.compile();
    if (!c || text.length < MIN_SECRET_LENGTH) return text;
    const whole = text.replace(c.re, CENSOR);
    return c.partials.length
      ? whole
          .split('\n')
          .map((l) => this.cutEdges(l, c))
          .join('\n')
      : whole;
  }

  /** A line that starts with the tail of a value or ends with its head: what a cut left of a secret. */
  private cutEdges(line: string, c: Compiled): string {
    // Most lines end and start with nothing a cut could leave: two set lookups say so.
    if (!c.headEnds.has(line.slice(-MIN_PARTIAL)) && !c.tailStarts.has(line.slice(0, MIN_PARTIAL))) return line;
    let out = line;
    for (const v of c.partials) {
      const min = Math.max(MIN_PARTIAL, Math.ceil(v.length / 2));
      for (let n = Math.min(v.length - 1, out.length); n >= min; n--)
        if (out.endsWith(v.slice(0, n))) {
          out = out.slice(0, out.length - n) + CENSOR;
          break;
        }
      for (let n = Math.min(v.length - 1, out.length); n >= min; n--)
        if (out.startsWith(v.slice(v.length - n))) {
          out = CENSOR + out.slice(n);
          break;
        }
    }
    return out;
  }

  /** Data with every string scrubbed, but those `keep` approves; a copy, the input is not changed. */
  scrubDeep<T>(value: T, keep: KeepValue = () => false): T {
    if (this.values.size === 0) return value;
    const walk = (v: unknown, key: string | undefined): unknown => {
      if (typeof v === 'string') return keep(key, v) ? v : this.scrub(v);
      if (Array.isArray(v)) return v.map((x) => walk(x, key));
      if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) out[k] = walk(x, k);
        return out;
      }
      if (v instanceof Error) return this.scrub(v.message);
      return v;
    };
    return walk(value, undefined) as T;
  }

  /** One JSON log line, scrubbed field by field so it stays one line of valid JSON. */
  scrubJsonLine(line: string, keep: KeepValue = () => false): string {
    const c = this.compile();
    if (!c || (c.partials.length === 0 && !this.holds(line))) return line;
    try {
      const doc: unknown = JSON.parse(line);
      const scrubbed = JSON.stringify(this.scrubDeep(doc, keep));
      return line.endsWith('\n') ? scrubbed + '\n' : scrubbed;
    } catch {
      return this.scrub(line);
    }
  }
}

/** The secrets of this process. Readers of secret files register here; every output is scrubbed through it. */
export const processSecrets = new Redactor();

/**
 * Room kept past a bound on output, so that a secret the bound cuts is still whole when it is
 * scrubbed (./clip): longer values are looked for whole and line by line only anyway.
 */
export const CLIP_MARGIN = 2 * MAX_PARTIAL_SOURCE;

/**
 * At most `max` characters of `text`, its start or its end, with `mark` where it was cut: scrubbed
 * of the process's secrets before it is cut, since what a cut leaves of a secret is found by no
 * search (the mark stands between it and the edge of the line). Whoever keeps a bounded part of
 * what a program printed keeps CLIP_MARGIN more and clips it here.
 */
export function clip(text: string, max: number, keep: 'start' | 'end', mark = '…'): string {
  const s = text.length > max ? processSecrets.scrub(text) : text;
  if (s.length <= max) return s;
  return keep === 'start' ? `${s.slice(0, max)}${mark}` : `${mark}${s.slice(s.length - max)}`;
}
