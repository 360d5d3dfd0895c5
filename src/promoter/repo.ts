// The fleet repo as the promoter writes it: the branch's head now, commits read from git objects,
// and a new commit — the head's tree with one file changed, signed in process — published only if
// the branch is still where it was read (a push that is never forced, or, for a local repository, a
// ref update under git's own lock file). A branch that moved says so, and the caller decides again.

import * as fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import git from 'isomorphic-git';
import { GitObjectSource } from '../manifest/index.js';
import { GitSync, isUrl, redactUrl, resolveRevision, type GitAuth } from '../sync/index.js';
import { descendsFrom } from '../trust/index.js';
import type { CommitSigner } from './signer.js';

export interface PromoterRepoSpec {
  /** An http(s) URL, or a local git repository (a checkout or a bare one). */
  repo: string;
  /** The branch. */
  ref: string;
  auth?: GitAuth;
  /** URL repos: PEM certificates of CAs trusted besides the defaults (a git server with a private CA). */
  caFile?: string;
  /** URL repos: where objects are kept between runs; default a temporary directory, removed on close. */
  cacheDir?: string;
  /** URL repos: commits fetched at first. */
  depth: number;
}

export interface PromoterRepo {
  /** The repository as messages name it (no credentials). */
  readonly name: string;
  /** The branch's head now (fetched from a URL). */
  head(): Promise<string>;
  source(commit: string): GitObjectSource;
  /** A revision (commit id, the branch, with ~N or ^) as a commit id, history fetched as far as it takes. */
  resolve(rev: string): Promise<string>;
  /** Whether `commit` is `ancestor` or descends from it, history fetched as far as it takes. */
  descends(commit: string, ancestor: string): Promise<boolean>;
  /** A commit of `parent`'s tree with `path` (at the root) holding `text`, signed; not on any branch yet. */
  commitFile(parent: string, path: string, text: string, message: string, signer: CommitSigner): Promise<string>;
  /** Moves the branch from `expected` to `commit`; 'moved' when the branch is no longer at `expected`. */
  publish(commit: string, expected: string): Promise<'pushed' | 'moved'>;
  close(): void;
}

/** rollgate-rollout.yaml is at most this, as any fleet repo file. */
const MAX_FILE = 1024 * 1024;

const branchRef = (ref: string) => (ref.startsWith('refs/') ? ref : `refs/heads/${ref}`);

/** A commit object's bytes, as git writes one, with the signature over everything else as `gpgsig`. */
async function writeSignedCommit(
  gitdir: string,
  o: { tree: string; parent: string; message: string; signer: CommitSigner },
): Promise<string> {
  const who = `${o.signer.name.replace(/[<>\n]/g, '')} <${o.signer.email.replace(/[<>\n]/g, '')}>`;
  const when = `${Math.floor(Date.now() / 1000)} +0000`;
  const headers = `tree ${o.tree}\nparent ${o.parent}\nauthor ${who} ${when}\ncommitter ${who} ${when}\n`;
  const body = `\n${o.message.replace(/\n*$/, '\n')}`;
  const signature = (await o.signer.sign(headers + body)).replace(/\n+$/, '');
  const gpgsig = `gpgsig ${signature.split('\n').join('\n ')}\n`;
  return git.writeObject({
    fs,
    gitdir,
    type: 'commit',
    format: 'content',
    object: Buffer.from(headers + gpgsig + body, 'utf8'),
  });
}

async function commitFileIn(
  gitdir: string,
  parent: string,
  path: string,
  text: string,
  message: string,
  signer: CommitSigner,
): Promise<string> {
  const { commit } = await git.readCommit({ fs, gitdir, oid: parent });
  const { tree } = await git.readTree({ fs, gitdir, oid: commit.tree });
  const blob = await git.writeBlob({ fs, gitdir, blob: Buffer.from(text, 'utf8') });
  const entries = tree.filter((e) => e.path !== path);
  entries.push({ mode: '100644', path, oid: blob, type: 'blob' });
  const newTree = await git.writeTree({ fs, gitdir, tree: entries });
  return writeSignedCommit(gitdir, { tree: newTree, parent, message, signer });
}

function urlRepo(spec: PromoterRepoSpec): PromoterRepo {
  const temp = spec.cacheDir ? undefined : mkdtempSync(join(tmpdir(), 'rollgate-promote-'));
  const gitdir = spec.cacheDir ? resolve(spec.cacheDir) : temp!;
  const sync = new GitSync({
    url: spec.repo,
    ref: branchRef(spec.ref),
    gitdir,
    depth: spec.depth,
    ...(spec.auth ? { auth: spec.auth } : {}),
    ...(spec.caFile !== undefined ? { caFile: spec.caFile } : {}),
  });
  const deepen = { deepen: (n: number) => sync.deepen(n) };
  let head: string | undefined;
  return {
    name: redactUrl(spec.repo),
    async head() {
      head = (await sync.poll()).commit;
      return head;
    },
    source: (commit) => new GitObjectSource(gitdir, commit),
    async resolve(rev) {
      // The branch as fetched; a commit id beyond the shallow edge fetches more history.
      const branch = spec.ref.replace(/^refs\/heads\//, '');
      const r =
        head && rev.startsWith(branch) && /^(~[0-9]*|\^1?)*$/.test(rev.slice(branch.length))
          ? head + rev.slice(branch.length)
          : rev;
      for (const depth of [0, 500, 10_000]) {
        if (depth) await sync.deepen(depth);
        try {
          return await resolveRevision(gitdir, r);
        } catch (err) {
          if (depth === 10_000) throw err;
        }
      }
      throw new Error('unreachable');
    },
    descends: (commit, ancestor) => descendsFrom(gitdir, commit, ancestor, deepen),
    commitFile: (parent, path, text, message, signer) => commitFileIn(gitdir, parent, path, text, message, signer),
    publish: (commit, expected) => sync.push(commit, expected),
    close() {
      if (temp) rmSync(temp, { recursive: true, force: true });
    },
  };
}

/** Where `gitdir`'s HEAD points when it names a branch (a checkout with that branch checked out). */
async function checkedOut(gitdir: string): Promise<string | undefined> {
  const text = await readFile(join(gitdir, 'HEAD'), 'utf8').catch(() => '');
  return /^ref: (\S+)/.exec(text)?.[1];
}

function localRepo(spec: PromoterRepoSpec): PromoterRepo {
  const root = resolve(spec.repo);
  const dotGit = join(root, '.git');
  const bare = !fs.existsSync(dotGit);
  const gitdir = bare ? root : dotGit;
  if (!fs.existsSync(join(gitdir, 'HEAD')) || !fs.existsSync(join(gitdir, 'objects')))
    throw new Error(`${spec.repo} is not a git repository (a checkout or a bare repository), nor an http(s) URL`);
  const ref = branchRef(spec.ref);
  const current = () => git.resolveRef({ fs, gitdir, ref });
  /** The file each commit made here changed, for the checkout's work tree once it is on the branch. */
  const changed = new Map<string, string>();
  return {
    name: root,
    async head() {
      return current().catch(() => {
        throw new Error(`${root} has no branch ${ref}`);
      });
    },
    source: (commit) => new GitObjectSource(gitdir, commit),
    resolve: (rev) => resolveRevision(gitdir, rev),
    descends: (commit, ancestor) => descendsFrom(gitdir, commit, ancestor),
    async commitFile(parent, path, text, message, signer) {
      // A checkout of the branch gets the file too: its work tree must not hold other edits of it.
      if (!bare && (await checkedOut(gitdir)) === ref) {
        const onDisk = await readFile(join(root, path), 'utf8').catch(() => undefined);
        const committed = await new GitObjectSource(gitdir, parent)
          .read(path, { maxBytes: MAX_FILE })
          .then((f) => f && Buffer.from(f.bytes).toString('utf8'));
        if ((onDisk ?? null) !== (committed ?? null))
          throw new Error(
            `${join(root, path)} has changes that are not committed: commit or discard them (the promoter writes ` +
              'this file, and would overwrite them)',
          );
      }
      const oid = await commitFileIn(gitdir, parent, path, text, message, signer);
      changed.set(oid, path);
      return oid;
    },
    async publish(commit, expected) {
      // git's own protocol for a ref update: <ref>.lock, created exclusively, checked, renamed over the ref.
      const loose = join(gitdir, ref);
      const lock = `${loose}.lock`;
      await fs.promises.mkdir(dirname(loose), { recursive: true });
      let handle;
      try {
        handle = await open(lock, 'wx');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'moved';
        throw err;
      }
      try {
        if ((await current().catch(() => undefined)) !== expected) return 'moved';
        await handle.writeFile(`${commit}\n`);
        await handle.sync();
        await handle.close();
        handle = undefined;
        await rename(lock, loose);
      } finally {
        await handle?.close();
        await rm(lock, { force: true });
      }
      const path = changed.get(commit);
      if (path && !bare && (await checkedOut(gitdir)) === ref) {
        const file = await new GitObjectSource(gitdir, commit).read(path, { maxBytes: MAX_FILE });
        if (file) {
          await writeFile(join(root, path), file.bytes);
          await git.add({ fs, dir: root, gitdir, filepath: path });
        }
      }
      return 'pushed';
    },
    close() {},
  };
}

export function openPromoterRepo(spec: PromoterRepoSpec): PromoterRepo {
  return isUrl(spec.repo) ? urlRepo(spec) : localRepo(spec);
}
