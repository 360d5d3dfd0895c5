// Files of the fleet repo that containers mount: a relative bind mount, a config or secret with
// `file:`. They are read from the commit (never from a checkout) into the desired state, content
// addressed, so a changed file changes exactly the services that mount it.

import type { FileTree } from '../../model/index.js';
import { canonicalJson, sha256Hex } from '../canonical.js';
import type { At, LoadContext } from '../context.js';
import { RepoPathError, type RepoTree } from '../source.js';

/** Per app: what a gateway may be asked to hold of the fleet repo. */
export const FILE_LIMITS = { maxBytes: 32 * 1024 * 1024, maxFiles: 4000 };

/** Files that only keep an empty directory in Git: such a directory is data, not configuration. */
const PLACEHOLDERS = new Set(['.gitkeep', '.keep', '.gitignore', '.placeholder', '.empty']);

export function treeHash(
  kind: FileTree['kind'],
  entries: { path: string; mode: number; bytes: Uint8Array }[],
  secret = false,
): string {
  return sha256Hex(
    canonicalJson({
      kind,
      secret,
      entries: entries.map((e) => ({ path: e.path, mode: e.mode, sha256: sha256Hex(e.bytes) })),
    }),
  );
}

export function fileTree(
  kind: FileTree['kind'],
  entries: { path: string; mode: number; bytes: Uint8Array }[],
  secret = false,
): FileTree {
  return {
    hash: treeHash(kind, entries, secret),
    kind,
    ...(secret ? { secret: true } : {}),
    entries: entries.map((e) => ({ path: e.path, mode: e.mode, base64: Buffer.from(e.bytes).toString('base64') })),
  };
}

export type RepoMount = { repo: { hash: string; name?: string } } | { data: string };

/** The trees one app mounts, each read once, with the app's budget across all of them. */
export class AppFiles {
  readonly trees = new Map<string, FileTree>();
  private readonly read = new Map<string, Promise<RepoTree | null | 'refused'>>();
  private bytes = 0;

  constructor(private readonly ctx: LoadContext) {}

  private load(repoPath: string, at: At): Promise<RepoTree | null | 'refused'> {
    let p = this.read.get(repoPath);
    if (!p) {
      p = this.ctx.source.tree(repoPath, FILE_LIMITS).catch((err: unknown) => {
        if (!(err instanceof RepoPathError)) throw err;
        this.ctx.at(at, err.message);
        return 'refused' as const;
      });
      this.read.set(repoPath, p);
    }
    return p;
  }

  private add(tree: FileTree, at: At): void {
    if (this.trees.has(tree.hash)) return;
    this.bytes += tree.entries.reduce((n, e) => n + (e.base64.length * 3) / 4, 0);
    if (this.bytes > FILE_LIMITS.maxBytes)
      this.ctx.at(at, `the files this app mounts from the fleet repo come to more than ${FILE_LIMITS.maxBytes} bytes`);
    this.trees.set(tree.hash, tree);
  }

  /**
   * A relative bind source: a file or directory of the repo (written content-addressed), or, when
   * the repo holds nothing there (or only Git placeholders), a data directory kept across updates.
   */
  async bind(repoPath: string, at: At): Promise<RepoMount | undefined> {
    const t = await this.load(repoPath, at);
    if (t === 'refused') return undefined;
    if (t === null || (t.kind === 'dir' && t.entries.every((e) => PLACEHOLDERS.has(e.path.split('/').pop()!))))
      return { data: repoPath };
    const tree = fileTree(t.kind, t.entries, t.decrypted === true);
    this.add(tree, at);
    return { repo: { hash: tree.hash, ...(t.kind === 'file' ? { name: t.entries[0]!.path } : {}) } };
  }

  /** A config or secret file of the repo: it must exist and be a file. */
  async file(
    repoPath: string,
    at: At,
    what: string,
    secret: boolean,
  ): Promise<{ hash: string; name: string } | undefined> {
    const t = await this.load(repoPath, at);
    if (t === 'refused') return undefined;
    if (t === null || t.kind !== 'file') {
      this.ctx.at(
        at,
        `${what} ${repoPath} ${t === null ? 'does not exist' : 'is a directory, not a file'} ` +
          `in ${this.ctx.source.label}`,
      );
      return undefined;
    }
    const tree = fileTree('file', t.entries, secret || t.decrypted === true);
    this.add(tree, at);
    return { hash: tree.hash, name: t.entries[0]!.path };
  }

  /** Content given inline (configs.content, or a variable's value for environment sources). */
  content(name: string, text: string, at: At, secret: boolean): { hash: string; name: string } {
    const tree = fileTree('file', [{ path: name, mode: 0o644, bytes: new TextEncoder().encode(text) }], secret);
    this.add(tree, at);
    return { hash: tree.hash, name };
  }
}
