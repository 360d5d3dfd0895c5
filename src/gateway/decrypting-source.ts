// The fleet repo as the manifest loader sees it on a gateway that holds SOPS keys: every file it
// reads (env files, mounted config and secret files, the fleet repo's own YAML) that is SOPS-
// encrypted is decrypted in memory here and handed on as plaintext marked `decrypted`, so what is
// written from it is written as a secret. A file that does not open (no key, wrong key, changed
// value or MAC) is a refused path: the loader reports it as a problem of the commit, naming the file.

import {
  UndecryptableFileError,
  type RepoFile,
  type RepoSource,
  type RepoTree,
  type TreeLimits,
} from '../manifest/source.js';
import { openSopsFile, SopsError, type DecryptionKeys } from '../trust/index.js';

/** Bytes a SOPS file always holds (its metadata's key), looked for before any parsing. */
const MARKER = Buffer.from('lastmodified');

export class DecryptingSource implements RepoSource {
  readonly ref: RepoSource['ref'];
  readonly label: string;
  /** What could not be checked without a key (`keys` null), once per file. */
  readonly notes = new Set<string>();

  /** `keys` null: no key given (validate, diff): encrypted files are checked for their structure only. */
  constructor(
    readonly inner: RepoSource,
    private readonly keys: DecryptionKeys | null,
  ) {
    this.ref = inner.ref;
    this.label = inner.label;
  }

  private async open(repoPath: string, bytes: Uint8Array): Promise<Uint8Array | null> {
    if (!Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes(MARKER)) return null;
    try {
      const r = await openSopsFile(repoPath, bytes, this.keys);
      if (r.kind === 'plain') return null;
      if (r.kind === 'unchecked') this.notes.add(r.note);
      return r.bytes;
    } catch (err) {
      if (err instanceof SopsError) throw new UndecryptableFileError(err.message);
      throw err;
    }
  }

  async read(repoPath: string, opts: { maxBytes: number; head?: number }): Promise<RepoFile | null> {
    const f = await this.inner.read(repoPath, opts);
    // A head read sniffs a file's kind (an artifact); an encrypted file is read whole.
    if (!f || opts.head !== undefined) return f;
    const plain = await this.open(repoPath, f.bytes);
    return plain ? { bytes: plain, size: plain.byteLength, decrypted: true } : f;
  }

  async tree(repoPath: string, limits: TreeLimits): Promise<RepoTree | null> {
    const t = await this.inner.tree(repoPath, limits);
    if (!t) return t;
    let decrypted = false;
    const entries: RepoTree['entries'] = [];
    for (const e of t.entries) {
      const name = t.kind === 'file' ? repoPath : `${repoPath}/${e.path}`;
      const plain = await this.open(name, e.bytes);
      if (plain) decrypted = true;
      entries.push(plain ? { ...e, bytes: plain } : e);
    }
    return decrypted ? { ...t, entries, decrypted: true } : t;
  }

  list(dir: string, max: number): Promise<string[] | null> {
    return this.inner.list(dir, max);
  }
}
