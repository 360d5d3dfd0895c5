// Whether a commit may be applied: signed by a trusted key (the commit itself, or a tag on it),
// and a descendant of the commit the gateway runs (no force-pushed downgrades). Signatures are
// verified in-process — OpenPGP with openpgp.js, SSH with ./sshsig.ts — over the exact bytes git
// signed, read from the object store.

import * as fs from 'node:fs';
import git from 'isomorphic-git';
import type { PublicKey } from 'openpgp';
import type { TrustedKeys } from './keys.js';
import { isSshSignature, parseSshSignature, SshSigError, verifySshSignature } from './sshsig.js';
import { formatDuration } from '../base/duration.js';
import { shortCommit } from '../base/short-commit.js';

export type TrustMode = 'head' | 'tag';

export interface TrustPolicy {
  keys: TrustedKeys;
  mode: TrustMode;
}

/** Why a commit is refused: `untrusted` (no valid signature by a trusted key) or `rewrite`. */
export class TrustError extends Error {
  override name = 'TrustError';
  constructor(
    readonly kind: 'untrusted' | 'rewrite',
    message: string,
  ) {
    super(message);
  }
}

/** A commit or tag object split into what was signed and the signature (absent: unsigned). */
export function splitSigned(raw: Buffer, type: 'commit' | 'tag'): { payload: Buffer; signature?: string } {
  const text = raw.toString('latin1');
  if (type === 'tag') {
    const m = /^-----BEGIN (PGP|SSH) SIGNATURE-----$/m.exec(text);
    if (!m) return { payload: raw };
    return { payload: raw.subarray(0, m.index), signature: text.slice(m.index) };
  }
  const headerEnd = text.indexOf('\n\n');
  const head = headerEnd < 0 ? text : text.slice(0, headerEnd + 1);
  const lines = head.split('\n');
  const kept: string[] = [];
  const sig: string[] = [];
  let inSig = false;
  for (const line of lines) {
    if (/^gpgsig(-sha256)? /.test(line)) {
      inSig = true;
      sig.push(line.replace(/^gpgsig(-sha256)? /, ''));
    } else if (inSig && line.startsWith(' ')) sig.push(line.slice(1));
    else {
      inSig = false;
      kept.push(line);
    }
  }
  if (sig.length === 0) return { payload: raw };
  const payload = kept.join('\n') + (headerEnd < 0 ? '' : text.slice(headerEnd + 1));
  return { payload: Buffer.from(payload, 'latin1'), signature: sig.join('\n') };
}

async function pgpKeyProblem(key: PublicKey, now: Date): Promise<string | undefined> {
  if (await key.isRevoked(undefined, undefined, now)) return 'is revoked';
  const expires = await key.getExpirationTime();
  if (expires instanceof Date && expires.getTime() <= now.getTime())
    return `expired on ${expires.toISOString().slice(0, 10)}`;
  return undefined;
}

/** The signer, when `signature` over `payload` verifies with a trusted key; else why not. */
export async function checkSignature(
  payload: Buffer,
  signature: string,
  keys: TrustedKeys,
  now = new Date(),
): Promise<{ ok: true; signer: string } | { ok: false; why: string }> {
  if (isSshSignature(signature)) {
    let sig;
    try {
      sig = parseSshSignature(signature);
    } catch (err) {
      return { ok: false, why: `its SSH signature cannot be read: ${(err as SshSigError).message}` };
    }
    const fp = `${sig.publicKey.type} key ${sig.publicKey.blob.toString('base64').slice(-16)}`;
    const signer = keys.ssh.find((s) => s.key.blob.equals(sig.publicKey.blob));
    if (!signer) return { ok: false, why: `it is signed by an SSH key that is not trusted (${fp})` };
    if (signer.namespaces && !signer.namespaces.includes('git'))
      return {
        ok: false,
        why: `${signer.source} allows that key for namespaces ${signer.namespaces.join(',')}, not git`,
      };
    if (signer.validAfter && now < signer.validAfter)
      return { ok: false, why: `${signer.source}: the key is valid only after ${signer.validAfter.toISOString()}` };
    if (signer.validBefore && now > signer.validBefore)
      return { ok: false, why: `${signer.source}: the key was valid only before ${signer.validBefore.toISOString()}` };
    if (!verifySshSignature(sig, payload, 'git'))
      return { ok: false, why: `its SSH signature by ${signer.principals.join(',')} does not match its content` };
    return { ok: true, signer: `${signer.principals.join(',')} (SSH, ${signer.source})` };
  }
  if (!signature.includes('-----BEGIN PGP SIGNATURE-----'))
    return { ok: false, why: 'its signature is neither OpenPGP nor SSH' };
  // Loaded already when OpenPGP keys are trusted (./keys.ts); else now, to name the key that signed.
  const { createMessage, readSignature, verify } = await import('openpgp');
  let parsed;
  try {
    parsed = await readSignature({ armoredSignature: signature });
  } catch (err) {
    return { ok: false, why: `its OpenPGP signature cannot be read: ${(err as Error).message}` };
  }
  const keyIds = parsed.getSigningKeyIDs();
  const trusted = keys.pgp.find((k) => keyIds.some((id) => k.key.getKeys(id).length > 0));
  if (!trusted)
    return {
      ok: false,
      why: `it is signed by OpenPGP key ${keyIds.map((k) => k.toHex().toUpperCase()).join(', ')}, which is not trusted`,
    };
  // A signature made after this gateway's "now" says the gateway's clock is behind (a dead RTC, no
  // NTP yet), not that the signature is bad: the key is judged at the later of the two times, so a
  // signature made after the key expired or was revoked is still refused, and a commit is never
  // recorded bad for the gateway's clock.
  const created = parsed.packets[0]?.created ?? undefined;
  const ahead = created && created.getTime() > now.getTime() ? created.getTime() - now.getTime() : 0;
  const at = ahead > 0 ? created! : now;
  const problem = await pgpKeyProblem(trusted.key, at);
  const who = `${trusted.key.getUserIDs()[0] ?? trusted.key.getKeyID().toHex().toUpperCase()}`;
  if (problem) return { ok: false, why: `the OpenPGP key of ${who} ${problem}` };
  try {
    const message = await createMessage({ binary: new Uint8Array(payload) });
    const { signatures } = await verify({ message, signature: parsed, verificationKeys: trusted.key, date: at });
    if (signatures.length === 0) throw new Error('no signature');
    await Promise.all(signatures.map((s) => s.verified));
  } catch (err) {
    return { ok: false, why: `its OpenPGP signature by ${who} does not verify: ${(err as Error).message}` };
  }
  const skew =
    ahead > 0
      ? `; signed ${formatDuration(ahead)} after this gateway's clock (${now.toISOString()}): check its time`
      : '';
  return { ok: true, signer: `${who} (OpenPGP, ${trusted.source})${skew}` };
}

async function rawObject(gitdir: string, oid: string): Promise<{ type: string; bytes: Buffer }> {
  const o = await git.readObject({ fs, gitdir, oid, format: 'content' });
  return { type: o.type, bytes: Buffer.from(o.object as Uint8Array) };
}

async function localTags(gitdir: string): Promise<{ name: string; oid: string }[]> {
  const out: { name: string; oid: string }[] = [];
  for (const name of await git.listTags({ fs, gitdir })) {
    const oid = await git.resolveRef({ fs, gitdir, ref: `refs/tags/${name}` }).catch(() => undefined);
    if (oid) out.push({ name, oid });
  }
  return out;
}

/**
 * Throws TrustError unless `commit` is signed (mode head) or tagged by a signed tag (mode tag) by
 * a trusted key; resolves to the signer. `tags`: the tags to look at (default: the local ones).
 */
export async function verifyCommit(
  gitdir: string,
  commit: string,
  policy: TrustPolicy,
  tags?: { name: string; oid: string }[],
): Promise<string> {
  const trustedBy = `a key of ${policy.keys.files.join(', ')}`;
  if (policy.mode === 'head') {
    const { bytes } = await rawObject(gitdir, commit);
    const { payload, signature } = splitSigned(bytes, 'commit');
    if (!signature)
      throw new TrustError(
        'untrusted',
        `commit ${shortCommit(commit)} is not signed; this gateway applies only commits signed by ${trustedBy} ` +
          '(git commit -S)',
      );
    const r = await checkSignature(payload, signature, policy.keys);
    if (!r.ok) throw new TrustError('untrusted', `commit ${shortCommit(commit)} is not trusted: ${r.why}`);
    return r.signer;
  }
  const whys: string[] = [];
  for (const { name: tag, oid } of tags ?? (await localTags(gitdir))) {
    const o = await rawObject(gitdir, oid).catch(() => undefined);
    if (o?.type !== 'tag') continue;
    const target = /^object ([0-9a-f]{40})$/m.exec(o.bytes.toString('latin1'))?.[1];
    if (target !== commit) continue;
    const { payload, signature } = splitSigned(o.bytes, 'tag');
    if (!signature) {
      whys.push(`tag ${tag} is not signed`);
      continue;
    }
    const r = await checkSignature(payload, signature, policy.keys);
    if (r.ok) return `${r.signer}, tag ${tag}`;
    whys.push(`tag ${tag}: ${r.why}`);
  }
  throw new TrustError(
    'untrusted',
    `commit ${shortCommit(commit)} carries no tag signed by ${trustedBy} (git tag -s)` +
      (whys.length ? `: ${whys.join('; ')}` : ''),
  );
}

export interface AncestryOptions {
  /** Fetches more history (at least `depth` commits from the tip) when the walk reaches a shallow edge. */
  deepen?: (depth: number) => Promise<void>;
  /** Commits walked at most. */
  maxCommits?: number;
}

/**
 * Whether `commit` descends from `ancestor` (or is it). History beyond a shallow clone's edge is
 * fetched as needed, in growing steps, up to `maxCommits`.
 */
export async function descendsFrom(
  gitdir: string,
  commit: string,
  ancestor: string,
  o: AncestryOptions = {},
): Promise<boolean> {
  const max = o.maxCommits ?? 10_000;
  const steps = [50, 500, max];
  for (let attempt = 0; ; attempt++) {
    const seen = new Set<string>();
    const queue = [commit];
    let edge = false;
    while (queue.length > 0 && seen.size < max) {
      const oid = queue.shift()!;
      if (seen.has(oid)) continue;
      seen.add(oid);
      if (oid === ancestor) return true;
      try {
        const { commit: c } = await git.readCommit({ fs, gitdir, oid });
        queue.push(...c.parent);
      } catch {
        edge = true; // a parent beyond the shallow edge
      }
    }
    if (!edge || !o.deepen || attempt >= steps.length) return false;
    await o.deepen(steps[attempt]!);
  }
}

/** Why a commit that does not descend from the applied one is refused. */
export function rewriteMessage(commit: string, applied: string): string {
  return (
    `commit ${shortCommit(commit)} does not descend from ${shortCommit(applied)}, the commit this gateway runs: the ` +
    'branch was force-pushed or moved back, and applying it would be a downgrade or a rewrite. Undo a ' +
    'change with a new commit (git revert); to allow this once, run the agent with --allow-rewrite ' +
    '(trust.allowRewrite)'
  );
}

export interface CommitGate {
  /** Absent: signatures are not checked. */
  policy?: TrustPolicy;
  allowRewrite: boolean;
  deepen?: (depth: number) => Promise<void>;
  tagsAt?: (commit: string) => Promise<{ name: string; oid: string }[]>;
}

/**
 * Whether `commit` may be applied on a gateway that runs `applied`: signed as the policy asks,
 * and a descendant of `applied` unless rewrites are allowed. Throws TrustError; resolves to the
 * signer when signatures are checked.
 */
export async function checkCommit(
  gitdir: string,
  commit: string,
  applied: string | undefined,
  gate: CommitGate,
): Promise<string | undefined> {
  let signer: string | undefined;
  if (gate.policy) {
    const tags = gate.policy.mode === 'tag' && gate.tagsAt ? await gate.tagsAt(commit) : undefined;
    signer = await verifyCommit(gitdir, commit, gate.policy, tags);
  }
  if (applied && applied !== commit && !gate.allowRewrite) {
    const opts = gate.deepen ? { deepen: gate.deepen } : {};
    if (!(await descendsFrom(gitdir, commit, applied, opts)))
      throw new TrustError('rewrite', rewriteMessage(commit, applied));
  }
  return signer;
}
