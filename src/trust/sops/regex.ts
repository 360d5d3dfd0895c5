// The metadata's encrypted_regex / unencrypted_regex as sops reads them: Go's RE2, which matches in
// time linear in the text. The file comes from the fleet repo, so a JavaScript RegExp built from
// it would let a commit hang the agent (and `rollgate validate`) with a pattern that backtracks
// exponentially (`^(a+)+$` against a key of 40 a's and a !). Here the pattern is parsed into a
// small automaton and run over a key by keeping the set of states it may be in (Thompson's
// construction): never more steps than the key's length times the automaton's size. The syntax
// read is what such rules use — literals, `.`, classes, `\d \w \s` (ASCII, as Go's), anchors,
// groups, `|` and the quantifiers; anything else is refused with a message that names it. Pure.

export class SopsRegexError extends Error {
  override name = 'SopsRegexError';
}

/** The longest pattern read, and the most states its automaton may have (a `{n,m}` copies its atom). */
const MAX_PATTERN = 512;
const MAX_STATES = 2000;

type CharTest = (c: string) => boolean;
type Node =
  | { t: 'char'; test: CharTest }
  | { t: 'bol' }
  | { t: 'eol' }
  | { t: 'cat'; items: Node[] }
  | { t: 'alt'; options: Node[] }
  | { t: 'rep'; node: Node; min: number; max: number };

const code = (c: string) => c.codePointAt(0)!;
const between = (c: string, lo: string, hi: string) => code(c) >= code(lo) && code(c) <= code(hi);
const DIGIT: CharTest = (c) => between(c, '0', '9');
const WORD: CharTest = (c) => DIGIT(c) || between(c, 'a', 'z') || between(c, 'A', 'Z') || c === '_';
const SPACE: CharTest = (c) => c === ' ' || c === '\t' || c === '\n' || c === '\f' || c === '\r' || c === '\v';
const not =
  (f: CharTest): CharTest =>
  (c) =>
    !f(c);
const is =
  (x: string): CharTest =>
  (c) =>
    c === x;

class Parser {
  private i = 0;
  private readonly s: string[];
  constructor(pattern: string) {
    this.s = [...pattern];
  }

  private fail(what: string): never {
    throw new SopsRegexError(`${what} (at character ${this.i + 1}), which rollgate does not read`);
  }
  private peek(): string | undefined {
    return this.s[this.i];
  }
  private next(): string {
    const c = this.s[this.i++];
    if (c === undefined) this.fail('it ends too early');
    return c;
  }

  parse(): Node {
    const n = this.alternation();
    if (this.i < this.s.length) this.fail(`an unmatched ${this.peek()}`);
    return n;
  }

  private alternation(): Node {
    const options = [this.sequence()];
    while (this.peek() === '|') {
      this.i++;
      options.push(this.sequence());
    }
    return options.length === 1 ? options[0]! : { t: 'alt', options };
  }

  private sequence(): Node {
    const items: Node[] = [];
    for (let c = this.peek(); c !== undefined && c !== '|' && c !== ')'; c = this.peek()) items.push(this.quantified());
    return { t: 'cat', items };
  }

  private quantified(): Node {
    let node = this.atom();
    for (;;) {
      const c = this.peek();
      let min: number;
      let max: number;
      if (c === '*') [min, max] = [0, Infinity];
      else if (c === '+') [min, max] = [1, Infinity];
      else if (c === '?') [min, max] = [0, 1];
      else if (c === '{' && /^\{\d+(,\d*)?\}/.test(this.s.slice(this.i).join(''))) {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.s.slice(this.i).join(''))!;
        this.i += m[0].length - 1;
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
        if (min > 1000 || (max !== Infinity && (max > 1000 || max < min))) this.fail(`a repeat count ${m[0]}`);
      } else return node;
      this.i++;
      if (node.t === 'bol' || node.t === 'eol') this.fail('a quantifier on an anchor');
      if (this.peek() === '?') this.i++; // lazy: the same set of matches, so the same answer to "does it match"
      if (this.peek() === '+') this.fail('a possessive quantifier');
      node = { t: 'rep', node, min, max };
    }
  }

  private atom(): Node {
    const c = this.next();
    switch (c) {
      case '(': {
        if (this.peek() === '?') {
          this.i++;
          if (this.next() !== ':') this.fail('a group with flags, a name or a lookaround');
        }
        const inner = this.alternation();
        if (this.next() !== ')') this.fail('an unclosed group');
        return inner;
      }
      case '^':
        return { t: 'bol' };
      case '$':
        return { t: 'eol' };
      case '.':
        return { t: 'char', test: (x) => x !== '\n' };
      case '[':
        return { t: 'char', test: this.charClass() };
      case '\\': {
        const e = this.escape(false);
        return { t: 'char', test: typeof e === 'string' ? is(e) : e };
      }
      case '*':
      case '+':
      case '?':
        return this.fail(`a quantifier ${c} with nothing before it`);
      default:
        return { t: 'char', test: is(c) };
    }
  }

  /** After a backslash: a class (\d \w \s and their negations) or one character, taken literally. */
  private escape(inClass: boolean): string | CharTest {
    const c = this.next();
    const classes: Record<string, CharTest> = {
      d: DIGIT,
      D: not(DIGIT),
      w: WORD,
      W: not(WORD),
      s: SPACE,
      S: not(SPACE),
    };
    if (classes[c]) return classes[c];
    const controls: Record<string, string> = { t: '\t', n: '\n', r: '\r', f: '\f', v: '\v' };
    if (controls[c]) return controls[c];
    if (/[A-Za-z0-9]/.test(c)) this.fail(`the escape \\${c}${inClass ? ' in a class' : ''}`);
    return c;
  }

  private charClass(): CharTest {
    const negated = this.peek() === '^';
    if (negated) this.i++;
    const parts: CharTest[] = [];
    for (let first = true; ; first = false) {
      const c = this.next();
      if (c === ']' && !first) break;
      if (c === '[' && this.peek() === ':') this.fail('a POSIX class [:name:]');
      const lo = c === '\\' ? this.escape(true) : c;
      if (typeof lo !== 'string') {
        parts.push(lo);
        continue;
      }
      if (this.peek() === '-' && this.s[this.i + 1] !== undefined && this.s[this.i + 1] !== ']') {
        this.i++;
        const h = this.next();
        const hi = h === '\\' ? this.escape(true) : h;
        if (typeof hi !== 'string') this.fail('a range that ends in a class');
        if (code(hi) < code(lo)) this.fail(`the range ${lo}-${hi}`);
        parts.push((x) => between(x, lo, hi));
      } else parts.push(is(lo));
    }
    return (x) => parts.some((p) => p(x)) !== negated;
  }
}

/** The automaton's states: a character test, a fork, an anchor, or the end. */
type State =
  | { k: 'char'; test: CharTest; out: number }
  | { k: 'split'; a: number; b: number }
  | { k: 'bol' | 'eol'; out: number }
  | { k: 'match' };

class Builder {
  readonly states: State[] = [];
  private add(s: State): number {
    if (this.states.length >= MAX_STATES)
      throw new SopsRegexError(`it makes more than ${MAX_STATES} states (repeat counts copy what they repeat)`);
    this.states.push(s);
    return this.states.length - 1;
  }

  /** Builds `n` so that it continues to state `next`; returns its entry state. */
  build(n: Node, next: number): number {
    switch (n.t) {
      case 'char':
        return this.add({ k: 'char', test: n.test, out: next });
      case 'bol':
      case 'eol':
        return this.add({ k: n.t, out: next });
      case 'cat':
        return n.items.reduceRight((to, item) => this.build(item, to), next);
      case 'alt':
        return n.options.map((o) => this.build(o, next)).reduce((a, b) => this.add({ k: 'split', a, b }));
      case 'rep': {
        let entry = next;
        if (n.max === Infinity) {
          // A loop: the fork either enters the atom (which comes back to the fork) or goes on.
          const fork = this.add({ k: 'split', a: -1, b: next });
          (this.states[fork] as { a: number }).a = this.build(n.node, fork);
          entry = fork;
        } else
          for (let i = n.min; i < n.max; i++) entry = this.add({ k: 'split', a: this.build(n.node, entry), b: next });
        for (let i = 0; i < n.min; i++) entry = this.build(n.node, entry);
        return entry;
      }
    }
  }
}

/** A sops regex rule: `test(text)` says whether the pattern matches anywhere in it, as Go's MatchString. */
export interface SopsRegex {
  test(text: string): boolean;
}

export function compileSopsRegex(pattern: string): SopsRegex {
  if ([...pattern].length > MAX_PATTERN) throw new SopsRegexError(`it is longer than ${MAX_PATTERN} characters`);
  const b = new Builder();
  const match = b.states.length;
  b.states.push({ k: 'match' });
  const start = b.build(new Parser(pattern).parse(), match);
  const { states } = b;
  return {
    test(text: string): boolean {
      const chars = [...text];
      // The states reachable from `from` without reading a character, at position `pos`.
      const close = (set: Set<number>, from: number, pos: number) => {
        const stack = [from];
        while (stack.length) {
          const i = stack.pop()!;
          if (set.has(i)) continue;
          set.add(i);
          const s = states[i]!;
          if (s.k === 'split') stack.push(s.b, s.a);
          else if (s.k === 'bol' && pos === 0) stack.push(s.out);
          else if (s.k === 'eol' && pos === chars.length) stack.push(s.out);
        }
      };
      let now = new Set<number>();
      for (let pos = 0; ; pos++) {
        close(now, start, pos); // unanchored: a match may begin at any position
        if (now.has(match)) return true;
        if (pos === chars.length) return false;
        const after = new Set<number>();
        for (const i of now) {
          const s = states[i]!;
          if (s.k === 'char' && s.test(chars[pos]!)) close(after, s.out, pos + 1);
        }
        now = after;
      }
    },
  };
}
