// The gateway's own variables (its variables file, `--var`) hold per-device values and secrets
// that stay out of Git, and problems and warnings travel far: logs, `rollgate status`, history,
// the fleet hub and its webhooks. So a message never quotes such a value: where it would, it names
// the variable. Interpolation says which strings of which file were made from which of them
// (provenance, `taint`); a message about such a string shows it as the file wrote it
// (`"${MEDIA}:/media"`), any value long enough to be told apart is named wherever it appears, and a
// shorter one where such a message quotes it whole ("on" is a word of many messages; `"on"` is it).
// Pure: values in, messages out.

import { escapeRe } from '../base/redact.js';
import type { PathSeg } from './yaml-file.js';
import { jsonEscaped } from '../base/redact.js';

/** Values shorter than this are named only where a message about a string they went into quotes them whole. */
const MIN_ANYWHERE = 4;

/** A string of a file that interpolation made from hidden variables. */
interface Taint {
  file: string;
  path: readonly PathSeg[];
  /** As the file wrote it. */
  template: string;
  value: string;
  names: readonly string[];
}

/** Where a message is about: a file and the path of the value in it. */
export interface Place {
  file: string;
  path: readonly PathSeg[];
}

interface Needle {
  text: string;
  replacement: string;
  /** Found only as a whole quoted string: a short value must not eat into the message's own words. */
  quoted: boolean;
}

/** Does one path lead into the other (a problem about a list names the strings inside it, and back)? */
function related(a: readonly PathSeg[], b: readonly PathSeg[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (String(a[i]) !== String(b[i])) return false;
  return true;
}

export class Concealer {
  private readonly vars = new Map<string, string>();
  private readonly taints: Taint[] = [];

  /** A variable whose value no message may quote. */
  hide(name: string, value: string): void {
    this.vars.set(name, value);
  }

  /** Names of the hidden variables. */
  get names(): ReadonlySet<string> {
    return new Set(this.vars.keys());
  }

  isHidden(name: string): boolean {
    return this.vars.has(name);
  }

  /** The string at `place` was made from `names` (hidden variables): problems about it show `template`. */
  taint(place: Place, template: string, value: string, names: readonly string[]): void {
    const hidden = names.filter((n) => this.vars.has(n));
    if (hidden.length) this.taints.push({ ...place, template, value, names: hidden });
  }

  /** Every string made from hidden variables, once each, as written and as made. */
  interpolations(): { written: string; value: string }[] {
    const seen = new Map<string, string>();
    for (const t of this.taints) if (t.value !== '' && !seen.has(t.value)) seen.set(t.value, t.template);
    return [...seen].map(([value, written]) => ({ written, value }));
  }

  /** Was the string at `place` (or one inside it) made from a hidden variable? */
  tainted(place: Place): boolean {
    return this.taints.some((t) => t.file === place.file && related(t.path, place.path));
  }

  /** `message` with every hidden value it quotes replaced by the variable's name, or the string as written. */
  conceal(message: string, place?: Place): string {
    if (this.vars.size === 0) return message;
    const needles: Needle[] = [];
    const add = (text: string, replacement: string, quoted: boolean) => {
      if (text === '') return;
      needles.push({ text, replacement, quoted });
      const json = jsonEscaped(text);
      if (json !== text) needles.push({ text: json, replacement, quoted });
    };
    if (place)
      for (const t of this.taints) {
        if (t.file !== place.file || !related(t.path, place.path)) continue;
        add(t.value, t.template, t.value.length < MIN_ANYWHERE);
        for (const n of t.names) {
          const v = this.vars.get(n)!;
          if (v.length < MIN_ANYWHERE) add(v, `\${${n}}`, true);
        }
      }
    for (const [n, v] of this.vars) if (v.length >= MIN_ANYWHERE) add(v, `\${${n}}`, false);
    if (needles.length === 0) return message;
    // One pass, longest first: a name put in is never searched again, and a value inside a longer one
    // does not break the longer one up.
    needles.sort((a, b) => b.text.length - a.text.length);
    const byText = new Map<string, string>();
    for (const n of needles) if (!byText.has(n.text)) byText.set(n.text, n.replacement);
    const re = new RegExp(
      needles.map((n) => (n.quoted ? `(?<=")${escapeRe(n.text)}(?=")` : escapeRe(n.text))).join('|'),
      'g',
    );
    return message.replace(re, (m) => byText.get(m) ?? m);
  }
}
