// HTML that escapes by default: html`<td>${value}</td>` escapes every value it is given, so a
// gateway's words are text wherever they land (an element, a quoted attribute). Markup comes only
// from the template's own literal parts, from other html`` results, and from raw(), which is for
// markup the hub itself wrote (its CSS) and never for a value from a report or a request.
//
// Text is also kept in its place on the line. A value may hold bidirectional controls (U+202E
// RIGHT-TO-LEFT OVERRIDE, U+2066 LEFT-TO-RIGHT ISOLATE, ...) or right-to-left letters, which
// reorder the text around them: "rolled back" could read as something else, one gateway's id as
// another's. So every control is shown as what it is ("<U+202E>"), in every context, and every
// value that holds anything but printable ASCII lands in element content inside <bdi>, which
// isolates it: nothing in it moves the text outside, whatever it holds. A printable-ASCII value
// needs no <bdi>: it has no right-to-left letter and no control, and lays out in the page's
// left-to-right lines as it would isolated (which keeps the large lists small).

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * The characters that change the direction of the text around them: the embeddings, overrides and
 * isolates with their terminators, and the invisible marks (LRM, RLM, ALM).
 */
export const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Markup that is safe to put in a page as it is. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** What a template may be given: markup, text, numbers, lists of them; nothing renders as nothing. */
export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

/** A bidirectional control as the visible text "<U+202E>"; everything else as it is. */
export function showBidiControls(s: string): string {
  return s.replace(BIDI_CONTROLS, (c) => `<U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}>`);
}

export function escapeHtml(s: string): string {
  return showBidiControls(s).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/**
 * Where a value lands, judged from the markup before it (the template's own, so it is well formed):
 * inside a tag (an attribute's value), in an element whose content is text only (a page's <title>,
 * an <option>, a <textarea>, an SVG <text>: a <bdi> there would be shown as "<bdi>" or not at
 * all), or in element content.
 */
type Context = 'attribute' | 'text-only' | 'content';
const TEXT_ONLY = /^<(title|option|textarea|text)[\s>]/i;

function contextAt(before: string): Context {
  const lt = before.lastIndexOf('<');
  if (lt < 0) return 'content';
  const gt = before.lastIndexOf('>');
  if (gt < lt) return 'attribute';
  return TEXT_ONLY.test(before.slice(lt, gt + 1)) ? 'text-only' : 'content';
}

/** Anything but printable ASCII: a value that could move the text around it. */
const NOT_PLAIN = /[^\u0020-\u007e]/;

function render(v: HtmlValue, context: Context): string {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map((x: HtmlValue) => render(x, context)).join('');
  if (v === null || v === undefined || v === false) return '';
  const text = String(v);
  const escaped = escapeHtml(text);
  return context === 'content' && NOT_PLAIN.test(text) ? `<bdi>${escaped}</bdi>` : escaped;
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!, contextAt(out)) + strings[i + 1]!;
  return new Html(out);
}

/** Markup the hub wrote itself, as it is. Never a value from a report or a request. */
export function raw(trusted: string): Html {
  return new Html(trusted);
}

/** A link to a page of the hub: each part a path segment, encoded. */
export function hubPath(...segments: string[]): string {
  return '/' + segments.map(encodeURIComponent).join('/');
}
