// Where fleet repo files come from: git objects of one commit, or a plain directory for local
// work. Both refuse paths that leave the repo: absolute paths, `..` past the root, symlinks.

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import git from 'isomorphic-git';
import type { SourceRef } from '../model/index.js';
import { shortCommit } from '../base/short-commit.js';

export class RepoPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RepoPathError';
  }
}

/** An encrypted file that does not open (no key, wrong key, changed): refused even where a missing file is not. */
export class UndecryptableFileError extends RepoPathError {
  override name = 'UndecryptableFileError';
}

export interface RepoFile {
  bytes: Uint8Array;
  /** Full size of the file; `bytes` may be a prefix when read with a head limit. */
  size: number;
  /** The plaintext of a SOPS-encrypted file: as secret as the gateway's own variables. */
  decrypted?: true;
}

export interface RepoSource {
  readonly ref: SourceRef;
  /** Human description, e.g. `commit 3f2a1c9` or `working tree /srv/fleet`. */
  readonly label: string;
  /**
   * Reads a repo-relative POSIX path. Returns null when it does not exist; throws RepoPathError
   * for paths that escape the repo, symlinks, directories and files larger than `maxBytes`.
   * With `head`, only the first `head` bytes are returned and larger files are allowed.
   */
  read(repoPath: string, opts: { maxBytes: number; head?: number }): Promise<RepoFile | null>;
  /**
   * A file or a whole directory (recursively), for mounts of repo files into containers. Null
   * when nothing is there; throws RepoPathError for symlinks and submodules in it, and when it
   * holds more than `limits` allow.
   */
  tree(repoPath: string, limits: TreeLimits): Promise<RepoTree | null>;
  /**
   * Paths of the regular files under a directory (recursively, sorted, at most `max`); null when it is not a
   * directory.
   */
  list(dir: string, max: number): Promise<string[] | null>;
}

export interface TreeLimits {
  maxBytes: number;
  maxFiles: number;
}

export interface RepoTree {
  kind: 'file' | 'dir';
  /** For a file, one entry named by the file's name; for a directory, paths inside it (sorted). */
  entries: { path: string; mode: number; bytes: Uint8Array }[];
  /** Some entry was SOPS-encrypted: the tree is written as a secret. */
  decrypted?: true;
}

/** Counts what a tree walk has taken, and stops it at the limits. */
class TreeBudget {
  bytes = 0;
  files = 0;
  constructor(
    readonly root: string,
    readonly limits: TreeLimits,
  ) {}
  take(size: number): void {
    this.bytes += size;
    this.files += 1;
    if (this.files > this.limits.maxFiles)
      throw new RepoPathError(
        `${this.root} holds more than ${this.limits.maxFiles} files; the limit for a mounted directory ` +
          `is ${this.limits.maxFiles}`,
      );
    if (this.bytes > this.limits.maxBytes)
      throw new RepoPathError(
        `${this.root} holds more than ${this.limits.maxBytes} bytes; the limit for mounted files ` +
          `is ${this.limits.maxBytes} bytes`,
      );
  }
}

const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/**
 * Resolves `rel` against the directory of `fromFile` (both repo-relative) and checks it stays
 * inside the repo. Returns a normalised POSIX path without a leading `./`.
 */
export function resolveRepoPath(fromFile: string, rel: string): string {
  if (rel.length === 0) throw new RepoPathError('empty path');
  if (rel.includes('\0') || rel.includes('\\'))
    throw new RepoPathError(`path ${JSON.stringify(rel)} contains a NUL or backslash`);
  if (rel.startsWith('/'))
    throw new RepoPathError(`path ${JSON.stringify(rel)} is absolute; paths are relative to the file that names them`);
  const joined = path.posix.normalize(path.posix.join(path.posix.dirname(fromFile), rel));
  if (joined === '..' || joined.startsWith('../') || joined.startsWith('/')) {
    throw new RepoPathError(`path ${JSON.stringify(rel)} leaves the repository`);
  }
  // `./config/` names the directory `config`, as in Compose.
  return joined.replace(/^\.\//, '').replace(/\/+$/, '');
}

function checkNormalised(repoPath: string): string[] {
  const segs = repoPath.split('/');
  if (repoPath.startsWith('/') || segs.some((s) => s === '..' || s === '.' || s === '')) {
    throw new RepoPathError(`path ${JSON.stringify(repoPath)} is not a normalised repo path`);
  }
  if (segs[0] === '.git') throw new RepoPathError(`path ${JSON.stringify(repoPath)} is inside .git`);
  return segs;
}

function tooLarge(repoPath: string, size: number, max: number): RepoPathError {
  return new RepoPathError(`${repoPath} is ${size} bytes; the limit is ${max} bytes`);
}

export class DirectorySource implements RepoSource {
  readonly ref: SourceRef;
  readonly label: string;
  constructor(readonly root: string) {
    this.root = path.resolve(root);
    this.ref = { path: this.root };
    this.label = `working tree ${this.root}`;
  }

  async read(repoPath: string, opts: { maxBytes: number; head?: number }): Promise<RepoFile | null> {
    const segs = checkNormalised(repoPath);
    let cur = this.root;
    for (let i = 0; i < segs.length; i++) {
      cur = path.join(cur, segs[i]!);
      let st: fs.Stats;
      try {
        st = await fsp.lstat(cur);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR')
          return null;
        throw err;
      }
      if (st.isSymbolicLink())
        throw new RepoPathError(`${segs.slice(0, i + 1).join('/')} is a symlink; symlinks are not followed`);
      const last = i === segs.length - 1;
      if (!last && !st.isDirectory()) return null;
      if (last) {
        if (!st.isFile()) throw new RepoPathError(`${repoPath} is not a regular file`);
        if (opts.head === undefined && st.size > opts.maxBytes) throw tooLarge(repoPath, st.size, opts.maxBytes);
        if (opts.head !== undefined) {
          const fh = await fsp.open(cur, 'r');
          try {
            const n = Math.min(opts.head, st.size);
            const buf = Buffer.alloc(n);
            await fh.read(buf, 0, n, 0);
            return { bytes: buf, size: st.size };
          } finally {
            await fh.close();
          }
        }
        const bytes = await fsp.readFile(cur);
        return { bytes, size: st.size };
      }
    }
    return null;
  }

  async list(dir: string, max: number): Promise<string[] | null> {
    const base = path.join(this.root, ...(dir === '' ? [] : checkNormalised(dir)));
    const st = await fsp.lstat(base).catch(() => null);
    if (!st?.isDirectory()) return null;
    const out: string[] = [];
    const walk = async (abs: string, rel: string): Promise<void> => {
      for (const name of (await fsp.readdir(abs)).sort()) {
        if (out.length >= max) return;
        const e = await fsp.lstat(path.join(abs, name));
        const r = rel ? `${rel}/${name}` : name;
        if (e.isDirectory() && name !== '.git') await walk(path.join(abs, name), r);
        else if (e.isFile()) out.push(r);
      }
    };
    await walk(base, dir);
    return out;
  }

  async tree(repoPath: string, limits: TreeLimits): Promise<RepoTree | null> {
    const segs = checkNormalised(repoPath);
    let cur = this.root;
    for (let i = 0; i < segs.length; i++) {
      cur = path.join(cur, segs[i]!);
      const st = await fsp.lstat(cur).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return null;
        throw err;
      });
      if (!st) return null;
      if (st.isSymbolicLink())
        throw new RepoPathError(`${segs.slice(0, i + 1).join('/')} is a symlink; symlinks are not followed`);
      if (i < segs.length - 1 && !st.isDirectory()) return null;
    }
    const budget = new TreeBudget(repoPath, limits);
    const top = await fsp.lstat(cur);
    if (top.isFile()) {
      budget.take(top.size);
      return {
        kind: 'file',
        entries: [
          { path: segs[segs.length - 1]!, mode: top.mode & 0o111 ? 0o755 : 0o644, bytes: await fsp.readFile(cur) },
        ],
      };
    }
    if (!top.isDirectory()) throw new RepoPathError(`${repoPath} is neither a file nor a directory`);
    const entries: RepoTree['entries'] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      for (const name of (await fsp.readdir(dir)).sort()) {
        if (rel === '' && name === '.git') continue;
        const full = path.join(dir, name);
        const r = rel ? `${rel}/${name}` : name;
        const st = await fsp.lstat(full);
        if (st.isSymbolicLink()) throw new RepoPathError(`${repoPath}/${r} is a symlink; symlinks are not followed`);
        if (st.isDirectory()) await walk(full, r);
        else if (st.isFile()) {
          budget.take(st.size);
          entries.push({ path: r, mode: st.mode & 0o111 ? 0o755 : 0o644, bytes: await fsp.readFile(full) });
        }
      }
    };
    await walk(cur, '');
    return { kind: 'dir', entries: entries.sort(byPath) };
  }
}

const MODE_TREE = '040000';
const MODE_SYMLINK = '120000';
const MODE_SUBMODULE = '160000';

/** Reads files of one commit straight from the object store: no checkout, nothing to drift. */
export class GitObjectSource implements RepoSource {
  readonly ref: SourceRef;
  readonly label: string;
  private readonly trees = new Map<string, Map<string, { mode: string; oid: string }>>();

  constructor(
    readonly gitdir: string,
    readonly commit: string,
  ) {
    this.ref = { commit };
    this.label = `commit ${shortCommit(commit)}`;
  }

  private async treeAt(oid: string): Promise<Map<string, { mode: string; oid: string }>> {
    let t = this.trees.get(oid);
    if (!t) {
      const { tree } = await git.readTree({ fs, gitdir: this.gitdir, oid });
      t = new Map(tree.map((e) => [e.path, { mode: e.mode, oid: e.oid }]));
      this.trees.set(oid, t);
    }
    return t;
  }

  async list(dir: string, max: number): Promise<string[] | null> {
    const segs = dir === '' ? [] : checkNormalised(dir);
    let treeOid = (await git.readCommit({ fs, gitdir: this.gitdir, oid: this.commit })).commit.tree;
    for (const seg of segs) {
      const e = (await this.treeAt(treeOid)).get(seg);
      if (!e || e.mode !== MODE_TREE) return null;
      treeOid = e.oid;
    }
    const out: string[] = [];
    const walk = async (oid: string, rel: string): Promise<void> => {
      for (const [name, e] of [...(await this.treeAt(oid))].sort(([a], [b]) => (a < b ? -1 : 1))) {
        if (out.length >= max) return;
        const r = rel ? `${rel}/${name}` : name;
        if (e.mode === MODE_TREE) await walk(e.oid, r);
        else if (e.mode !== MODE_SYMLINK && e.mode !== MODE_SUBMODULE) out.push(r);
      }
    };
    await walk(treeOid, dir);
    return out;
  }

  async tree(repoPath: string, limits: TreeLimits): Promise<RepoTree | null> {
    const segs = checkNormalised(repoPath);
    let treeOid = (await git.readCommit({ fs, gitdir: this.gitdir, oid: this.commit })).commit.tree;
    let entry: { mode: string; oid: string } | undefined;
    for (let i = 0; i < segs.length; i++) {
      entry = (await this.treeAt(treeOid)).get(segs[i]!);
      if (!entry) return null;
      const shown = segs.slice(0, i + 1).join('/');
      if (entry.mode === MODE_SYMLINK) throw new RepoPathError(`${shown} is a symlink; symlinks are not followed`);
      if (entry.mode === MODE_SUBMODULE)
        throw new RepoPathError(`${shown} is a submodule; submodules are not supported`);
      if (i < segs.length - 1) {
        if (entry.mode !== MODE_TREE) return null;
        treeOid = entry.oid;
      }
    }
    const budget = new TreeBudget(repoPath, limits);
    const blob = async (oid: string): Promise<Uint8Array> =>
      (await git.readBlob({ fs, gitdir: this.gitdir, oid })).blob;
    const mode = (m: string) => (m === '100755' ? 0o755 : 0o644);
    if (entry!.mode !== MODE_TREE) {
      const bytes = await blob(entry!.oid);
      budget.take(bytes.byteLength);
      return { kind: 'file', entries: [{ path: segs[segs.length - 1]!, mode: mode(entry!.mode), bytes }] };
    }
    const entries: RepoTree['entries'] = [];
    const walk = async (oid: string, rel: string): Promise<void> => {
      for (const [name, e] of [...(await this.treeAt(oid))].sort(([a], [b]) => (a < b ? -1 : 1))) {
        const r = rel ? `${rel}/${name}` : name;
        if (e.mode === MODE_SYMLINK)
          throw new RepoPathError(`${repoPath}/${r} is a symlink; symlinks are not followed`);
        if (e.mode === MODE_SUBMODULE)
          throw new RepoPathError(`${repoPath}/${r} is a submodule; submodules are not supported`);
        if (e.mode === MODE_TREE) await walk(e.oid, r);
        else {
          const bytes = await blob(e.oid);
          budget.take(bytes.byteLength);
          entries.push({ path: r, mode: mode(e.mode), bytes });
        }
      }
    };
    await walk(entry!.oid, '');
    return { kind: 'dir', entries: entries.sort(byPath) };
  }

  async read(repoPath: string, opts: { maxBytes: number; head?: number }): Promise<RepoFile | null> {
    const segs = checkNormalised(repoPath);
    let treeOid = (await git.readCommit({ fs, gitdir: this.gitdir, oid: this.commit })).commit.tree;
    for (let i = 0; i < segs.length; i++) {
      const entry = (await this.treeAt(treeOid)).get(segs[i]!);
      if (!entry) return null;
      const shown = segs.slice(0, i + 1).join('/');
      if (entry.mode === MODE_SYMLINK) throw new RepoPathError(`${shown} is a symlink; symlinks are not followed`);
      if (entry.mode === MODE_SUBMODULE)
        throw new RepoPathError(`${shown} is a submodule; submodules are not supported`);
      const last = i === segs.length - 1;
      if (!last) {
        if (entry.mode !== MODE_TREE) return null;
        treeOid = entry.oid;
        continue;
      }
      if (entry.mode === MODE_TREE) throw new RepoPathError(`${repoPath} is a directory, not a file`);
      const { blob } = await git.readBlob({ fs, gitdir: this.gitdir, oid: entry.oid });
      if (opts.head !== undefined) return { bytes: blob.subarray(0, opts.head), size: blob.byteLength };
      if (blob.byteLength > opts.maxBytes) throw tooLarge(repoPath, blob.byteLength, opts.maxBytes);
      return { bytes: blob, size: blob.byteLength };
    }
    return null;
  }
}
