// `rollgate fleet` prints what gateways and the fleet repo said; terminalText must show every
// character that would act on the operator's terminal or on the order of the words as \uXXXX. The
// test walks every code point of the Basic Multilingual Plane against Unicode's own classes (the
// controls, the line and paragraph separators, the bidirectional controls), so a class the
// function forgets is found here, not in an operator's terminal.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { terminalText } from '../../src/cli/fleet-command.js';

/** What must never reach a terminal as itself (a tab is spacing, and stays). */
const ACTS = /[\p{Cc}\p{Zl}\p{Zp}\p{Bidi_Control}]/u;

test('every control, separator and bidirectional control is shown as \\uXXXX; other text is left as it is', () => {
  const missed: string[] = [];
  for (let cp = 0; cp <= 0xffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const c = String.fromCharCode(cp);
    const shown = terminalText(`a${c}b`);
    const hex = cp.toString(16).padStart(4, '0');
    if (ACTS.test(c) && c !== '\t') {
      if (shown !== `a\\u${hex}b`) missed.push(`U+${hex.toUpperCase()}`);
    } else if (shown !== `a${c}b`) missed.push(`U+${hex.toUpperCase()} changed`);
  }
  assert.deepEqual(missed, []);
  assert.equal(terminalText('gw-1 \u202eliaf \u200f7 שלום'), 'gw-1 \\u202eliaf \\u200f7 שלום');
});
