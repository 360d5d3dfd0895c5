// The last line for secrets: every spelling of a registered value is scrubbed from text and data,
// identifiers the caller approves are left whole, short values are left alone.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CENSOR,
  clip,
  CLIP_MARGIN,
  MAX_SECRETS,
  MIN_SECRET_LENGTH,
  processSecrets,
  Redactor,
} from '../../src/base/redact.js';

const TOKEN = 'tok-9Fq2xLmP0aZ7';
const PASSWORD = 'p@ss w/rd"\\+?';

function redactor(...values: string[]): Redactor {
  const r = new Redactor();
  r.add(values);
  return r;
}

/** `text` scrubbed holds none of `secret` and still holds `kept`. */
function clean(r: Redactor, text: string, secret: string, kept?: string): string {
  const out = r.scrub(text);
  assert.ok(!out.includes(secret), `${JSON.stringify(secret)} is left in ${JSON.stringify(out)}`);
  assert.ok(out.includes(CENSOR), out);
  if (kept) assert.ok(out.includes(kept), `${JSON.stringify(kept)} is kept in ${JSON.stringify(out)}`);
  return out;
}

describe('the redactor finds a secret however it is spelled', () => {
  const r = redactor(TOKEN, PASSWORD, `gateway:${PASSWORD}`);
  const rows: [string, string, string][] = [
    ['as it is, in a sentence', `the server said: bad token ${TOKEN} (HTTP 401)`, TOKEN],
    ['with regex and JSON characters', `password was ${PASSWORD}!`, PASSWORD],
    ['JSON-escaped', `{"body":${JSON.stringify(`pw=${PASSWORD}`)}}`, JSON.stringify(PASSWORD).slice(1, -1)],
    ['JSON inside JSON', JSON.stringify({ log: JSON.stringify({ pw: PASSWORD }) }), 'p@ss w/rd'],
    ['percent-encoded in a URL', `GET https://h/x?pw=${encodeURIComponent(PASSWORD)}&a=1`, 'p%40ss'],
    [
      'percent-encoded with lower-case hex',
      `GET https://h/x?pw=${encodeURIComponent(PASSWORD).toLowerCase()}`,
      encodeURIComponent(PASSWORD).toLowerCase(),
    ],
    ['in a URL as user:password', `cannot reach https://gateway:${TOKEN}@git.example.com/fleet.git`, TOKEN],
    ['base64, as a bearer token', `Authorization: Bearer ${Buffer.from(TOKEN).toString('base64')}`, 'dG9rLTlG'],
    [
      'a basic-auth header echoed by a server',
      `you sent: Authorization: Basic ${Buffer.from(`gateway:${PASSWORD}`).toString('base64')}`,
      Buffer.from(`gateway:${PASSWORD}`).toString('base64').slice(0, 12),
    ],
    ['base64url', `jwt.${Buffer.from(TOKEN).toString('base64url')}.sig`, Buffer.from(TOKEN).toString('base64url')],
  ];
  for (const [what, text, secret] of rows) test(what, () => void clean(r, text, secret));

  describe('as programs other than rollgate spell it', () => {
    const AMP = 'pw&<gw>-Secret 2028\u2028x';
    const UNI = 'Pässwörd-Ünï-😀-key';
    const u = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
    const json = (s: string) => JSON.stringify(s).slice(1, -1);
    const spelled: [string, string, string][] = [
      ['in JSON from Go (<, > and & as \\u003c...; U+2028 too)', json(AMP).replace(/[<>&\u2028]/g, u), AMP],
      ['in JSON from Python (ASCII only: \\u00e4, 😀 as a surrogate pair)', json(UNI).replace(/[^ -~]/g, u), UNI],
      [
        'in JSON with upper-case escapes',
        json(UNI).replace(/[^ -~]/g, (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`),
        UNI,
      ],
      ['form-encoded (a space is +)', new URLSearchParams({ pw: AMP }).toString().slice(3), AMP],
      ['percent-encoded twice (a URL in a query)', encodeURIComponent(encodeURIComponent(AMP)), AMP],
      ['decomposed (NFD), as a Mac writes a file name', UNI.normalize('NFD'), UNI],
      ['composed (NFC), registered decomposed', UNI, UNI.normalize('NFD')],
      ['hex', Buffer.from(UNI).toString('hex'), UNI],
      ['HEX', Buffer.from(AMP).toString('hex').toUpperCase(), AMP],
    ];
    for (const [what, text, value] of spelled)
      test(what, () => {
        const one = redactor(value);
        const out = one.scrub(`said: ${text} (end)`);
        assert.notEqual(text, value, 'a spelling of its own');
        assert.equal(out, `said: ${CENSOR} (end)`);
      });
  });

  test('base64 inside a longer encoded text, at each of the three offsets', () => {
    for (const prefix of ['', 'x', 'xy', 'xyz', '{"token":"']) {
      const b64 = Buffer.from(`${prefix}${TOKEN}","more":"data"}`).toString('base64');
      const out = r.scrub(`body=${b64}`);
      assert.notEqual(out, `body=${b64}`, `found after ${JSON.stringify(prefix)}`);
    }
  });

  test('the head or tail of a secret cut at the end or start of a line', () => {
    const head = TOKEN.slice(0, 10);
    const tail = TOKEN.slice(-9);
    assert.equal(r.scrub(`output ends with ${head}`), `output ends with ${CENSOR}`);
    assert.equal(r.scrub(`${tail} starts the next line`), `${CENSOR} starts the next line`);
    assert.equal(r.scrub(`wrapped at 10: ${head}\n${TOKEN.slice(10)} and on`).includes(head), false);
    assert.equal(r.scrub('ends with tok-9'), 'ends with tok-9', 'too little of it to tell');
  });

  test('a value of several lines is found whole and line by line', () => {
    const key = '-----BEGIN KEY-----\nQUJDREVGR0hJSktMTU5PUA==\nUVJTVFVWV1hZWg==\n-----END KEY-----';
    const m = redactor(key);
    assert.ok(!m.scrub(`key: ${key}`).includes('QUJDREVG'));
    assert.ok(!m.scrub('line two alone: UVJTVFVWV1hZWg==').includes('UVJTVFVW'));
  });
});

describe('a bounded part of what a program printed is scrubbed before it is cut', () => {
  const SECRET = 'clip-Secret-Across-The-Cut-5512';
  processSecrets.add([SECRET]);

  test('its start or its end, with a mark where it was cut, and no piece of a secret the cut went through', () => {
    const text = `${'a'.repeat(90)}${SECRET}${'b'.repeat(90)}`;
    const head = clip(text, 100, 'start');
    assert.equal(head, `${'a'.repeat(90)}${CENSOR}…`);
    const tail = clip(text, 100, 'end');
    assert.equal(tail, `…${CENSOR}${'b'.repeat(90)}`);
    assert.equal(clip('short', 100, 'start'), 'short');
    assert.equal(clip(text, 95, 'start', ''), `${'a'.repeat(90)}${CENSOR.slice(0, 5)}`);
  });

  test(`the margin kept past a bound (${CLIP_MARGIN}) holds any value short enough to be searched piecewise`, () => {
    const long = 'L'.repeat(256);
    const r = redactor(long);
    // A value this long is found in a line cut at either edge; CLIP_MARGIN covers those cut elsewhere.
    assert.ok(CLIP_MARGIN >= long.length);
    assert.equal(r.scrub(`x ${long.slice(0, 200)}`), `x ${CENSOR}`);
  });
});

describe('what the redactor leaves alone', () => {
  test(`values shorter than ${MIN_SECRET_LENGTH} characters: they would eat into every word`, () => {
    const r = redactor('1', 'on', 'abc');
    assert.equal(r.size, 0);
    const text = 'applied on 2026-01-01 at 10:11, abc';
    assert.equal(r.scrub(text), text);
  });

  test(`at most ${MAX_SECRETS} values: those read least recently go first, those read again stay`, () => {
    const r = redactor('kept-token-1234', 'stale-token-1234');
    for (let i = 0; i < MAX_SECRETS; i++) {
      r.add([`rotated-${i}`]);
      if (i % 100 === 0) r.add(['kept-token-1234']);
    }
    assert.equal(r.size, MAX_SECRETS);
    assert.equal(r.scrub('kept-token-1234 stale-token-1234 rotated-999'), `${CENSOR} stale-token-1234 ${CENSOR}`);
  });

  test('values made public (the gateway id, its labels) are never masked', () => {
    const r = redactor('gw-0042', 'berlin', TOKEN);
    r.allow(['gw-0042', 'berlin']);
    r.add(['berlin']);
    assert.equal(r.scrub(`gateway gw-0042 at berlin: ${TOKEN}`), `gateway gw-0042 at berlin: ${CENSOR}`);
  });

  test('data: every string scrubbed but those the caller keeps, and the input unchanged', () => {
    const r = redactor('beef', TOKEN);
    const commit = 'deadbeef'.repeat(5);
    const data = { commit, reason: `bad token ${TOKEN} at beef`, list: [TOKEN, 7, null], nested: { to: commit } };
    const out = r.scrubDeep(data, (key, v) => (key === 'commit' || key === 'to') && /^[0-9a-f]{40}$/.test(v));
    assert.deepEqual(out, {
      commit,
      reason: `bad token ${CENSOR} at ${CENSOR}`,
      list: [CENSOR, 7, null],
      nested: { to: commit },
    });
    assert.equal(data.reason, `bad token ${TOKEN} at beef`);
  });

  test('a JSON log line stays one line of valid JSON, however the secret is escaped', () => {
    const r = redactor(PASSWORD);
    const line = JSON.stringify({ level: 'info', msg: `login with ${PASSWORD}`, err: { detail: PASSWORD } }) + '\n';
    const out = r.scrubJsonLine(line);
    assert.ok(out.endsWith('\n') && !out.slice(0, -1).includes('\n'));
    assert.deepEqual(JSON.parse(out), { level: 'info', msg: `login with ${CENSOR}`, err: { detail: CENSOR } });
    const quiet = '{"level":"info","msg":"nothing to hide"}\n';
    assert.equal(r.scrubJsonLine(quiet), quiet);
  });
});
