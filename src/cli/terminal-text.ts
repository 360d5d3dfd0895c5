// What the CLI prints of words others wrote (gateways, the fleet repo, a hub's answer), made safe
// for the operator's terminal.

/**
 * A gateway's words as a terminal shows them: control characters (an escape sequence that would
 * retitle or clear the operator's terminal, a carriage return that would overwrite a line), line
 * separators, and the bidirectional controls (overrides, embeddings, isolates, and the invisible
 * LRM, RLM and ALM marks, which reorder the words around them) are written as \uXXXX, never obeyed.
 * Every string of the hub's answer that a line prints goes through it: the hub checks most of them
 * (ids, reasons), but the terminal need not rely on it.
 */
export function terminalText(s: string): string {
  return s.replace(
    // eslint-disable-next-line no-control-regex -- control characters are what this is about
    /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
