// HTML that escapes by default: html`<td>${value}</td>` escapes every value it is given, so a
// gateway's words are text wherever they land (an element, a quoted attribute). Markup comes only
// from the template's own literal parts, from other html`` results, and from raw(), which is for
// markup the hub itself wrote (its CSS) and never for a value from a report or a request.

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Markup that is safe to put in a page as it is. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** What a template may be given: markup, text, numbers, lists of them; nothing renders as nothing. */
export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function render(v: HtmlValue): string {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map((x: HtmlValue) => render(x)).join('');
  if (v === null || v === undefined || v === false) return '';
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
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
