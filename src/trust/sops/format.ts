// SOPS files as the sops tool writes them, read back into one shape: the tree of values in the
// file's order and the `sops` metadata. Four stores, as sops names them: YAML and JSON (a
// top-level `sops` map), dotenv (`KEY=VALUE` lines, the metadata flattened into `sops_…` keys with
// `__map_`/`__list_` separators) and binary (a JSON document `{"data": …, "sops": …}`). What a file
// is, is told by its content and, where two stores write the same shape, by its name's extension,
// as sops decides. Pure: text in, tree out.

import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

/** A value of the tree: Maps keep the file's key order, which the MAC depends on. */
export type SopsValue = string | number | boolean | null | SopsValue[] | Map<string, SopsValue>;
export type SopsStore = 'yaml' | 'json' | 'dotenv' | 'binary';

export interface SopsFile {
  store: SopsStore;
  tree: Map<string, SopsValue>;
  metadata: Map<string, SopsValue>;
}

export class SopsFormatError extends Error {
  override name = 'SopsFormatError';
}

const MAP_SEP = '__map_';
const LIST_SEP = '__list_';
const DOTENV_PREFIX = 'sops_';

const extension = (file: string) => /\.([A-Za-z0-9]+)$/.exec(file)?.[1]?.toLowerCase() ?? '';
const isMap = (v: unknown): v is Map<string, SopsValue> => v instanceof Map;

/** Cheap first look: a file that names no SOPS metadata is read as it is, without parsing. */
export function looksLikeSops(text: string): boolean {
  return /^sops_(lastmodified|mac)=/m.test(text) || (/"?sops"?\s*:/.test(text) && /lastmodified/.test(text));
}

/** The SOPS file `text` holds, or null when it holds none (a plain file). Throws on a broken one. */
export function readSopsFile(file: string, text: string): SopsFile | null {
  if (!looksLikeSops(text)) return null;
  if (/^sops_(lastmodified|mac)=/m.test(text)) return readDotenv(text);
  const ext = extension(file);
  let doc: unknown;
  try {
    doc = parseDocument(text, ext === 'json' || text.trimStart().startsWith('{'));
  } catch (err) {
    // A script or a binary that merely names sops's keys is not a broken SOPS file; one with its values is.
    if (!text.includes('ENC[AES256_GCM,')) return null;
    throw err;
  }
  if (!isMap(doc)) return null;
  const metadata = doc.get('sops');
  if (!isMap(metadata)) return null;
  const tree = new Map([...doc].filter(([k]) => k !== 'sops'));
  const binary = ext !== 'json' && ext !== 'yaml' && ext !== 'yml' && tree.size === 1 && tree.has('data');
  return {
    store: binary ? 'binary' : ext === 'json' || text.trimStart().startsWith('{') ? 'json' : 'yaml',
    tree,
    metadata,
  };
}

function parseDocument(text: string, json: boolean): unknown {
  try {
    // JSON allows no raw tab inside a string, so tabs are only whitespace there, which YAML's flow
    // style takes as spaces; YAML's parser keeps key order for keys that look like numbers, JSON.parse does not.
    return parseYaml(json ? text.replace(/\t/g, ' ') : text, { mapAsMap: true, maxAliasCount: 0, uniqueKeys: true });
  } catch (err) {
    throw new SopsFormatError(`not valid ${json ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** dotenv as sops reads it: split at the first `=`, nothing trimmed, `\n` in a value is a line break. */
function readDotenv(text: string): SopsFile {
  const tree = new Map<string, SopsValue>();
  const flat: [string, string][] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq < 0) throw new SopsFormatError(`line ${i + 1} is not KEY=VALUE`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1).replace(/\\n/g, '\n');
    if (key.startsWith(DOTENV_PREFIX)) flat.push([key.slice(DOTENV_PREFIX.length), value]);
    else tree.set(key, value);
  });
  const metadata = new Map<string, SopsValue>();
  for (const [key, value] of flat) unflatten(metadata, key, value, flat.length);
  return { store: 'dotenv', tree, metadata };
}

/** Puts `value` where a flattened key such as `pgp__list_0__map_enc` says. */
function unflatten(root: Map<string, SopsValue>, key: string, value: string, most: number): void {
  const tokens = key.split(/(?=__map_|__list_)/);
  let holder: Map<string, SopsValue> | SopsValue[] = root;
  let slot: string | number = tokens[0]!;
  for (const t of tokens.slice(1)) {
    const list = t.startsWith(LIST_SEP);
    const index = t.slice(LIST_SEP.length);
    if (list && !/^(0|[1-9]\d{0,5})$/.test(index))
      throw new SopsFormatError(`metadata key sops_${key.slice(0, 200)} has a bad list index`);
    const next: string | number = list ? Number(index) : t.slice(MAP_SEP.length);
    inList(holder, slot, key, most);
    const existing: SopsValue | undefined = isMap(holder) ? holder.get(slot as string) : holder[slot as number];
    const child: Map<string, SopsValue> | SopsValue[] =
      existing !== undefined && (Array.isArray(existing) || isMap(existing)) ? existing : list ? [] : new Map();
    if (isMap(holder)) holder.set(slot as string, child);
    else holder[slot as number] = child;
    holder = child;
    slot = next;
  }
  inList(holder, slot, key, most);
  if (isMap(holder)) holder.set(slot as string, value);
  else holder[slot as number] = value;
}

/**
 * A list index is at most the number of metadata keys: a larger one (`__list_4294967294`) would
 * make a list with a hole of any length, which every later loop over it walks, missing item by
 * missing item, for minutes. (sops sorts the keys as text, so `__list_10` may come before `__list_2`.)
 */
function inList(holder: Map<string, SopsValue> | SopsValue[], slot: string | number, key: string, most: number): void {
  if (Array.isArray(holder) && (slot as number) >= most)
    throw new SopsFormatError(
      `metadata key sops_${key.slice(0, 200)} names item ${slot} of a list, ` +
        `and the file has only ${most} metadata keys`,
    );
}

/** The plaintext file as `sops --decrypt` writes it for the same store. */
export function emitPlain(file: SopsFile, decrypted: Map<string, SopsValue>): Uint8Array {
  switch (file.store) {
    case 'binary': {
      const data = decrypted.get('data');
      return typeof data === 'string' ? Buffer.from(data, 'utf8') : new Uint8Array();
    }
    case 'dotenv':
      return Buffer.from(
        [...decrypted].map(([k, v]) => `${k}=${scalarText(v).replace(/\n/g, '\\n')}\n`).join(''),
        'utf8',
      );
    case 'json':
      return Buffer.from(JSON.stringify(toPlain(decrypted), null, 4) + '\n', 'utf8');
    case 'yaml':
      return Buffer.from(stringifyYaml(decrypted), 'utf8');
  }
}

function scalarText(v: SopsValue): string {
  if (v === null) return '';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'object') throw new SopsFormatError('a dotenv file holds no nested values');
  return String(v);
}

function toPlain(v: SopsValue): unknown {
  if (isMap(v)) return Object.fromEntries([...v].map(([k, x]) => [k, toPlain(x)]));
  if (Array.isArray(v)) return v.map(toPlain);
  return v;
}
