// Signed commits and tags, made by git with real gpg and ssh-keygen keys, verified by rollgate
// in-process: trusted keys pass; unsigned commits, other keys, expired and revoked keys, and a
// signature moved onto other content are refused, each with its reason.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  checkCommit,
  checkSignature,
  descendsFrom,
  readTrustedKeys,
  splitSigned,
  TrustError,
  TrustedKeysError,
  verifyCommit,
} from '../../src/trust/index.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';
import { commitSigned, gitIn, Keyring, type GpgKey, type SshKey } from '../helpers/signing.js';

describe('trust: commit signatures verified in-process (real gpg and ssh-keygen keys, commits made by git)', () => {
  const dir = tempDir('rollgate-trust-');
  const repo = join(dir, 'repo');
  const gitdir = join(repo, '.git');
  let ring: Keyring;
  let signer: GpgKey;
  let stranger: GpgKey;
  let expired: GpgKey;
  let revoked: GpgKey;
  let sshEd: SshKey;
  let sshRsa: SshKey;
  let sshEcdsa: SshKey;
  let sshStranger: SshKey;
  let allowed: string;
  let git: (...args: string[]) => string;

  before(() => {
    ring = new Keyring(dir);
    signer = ring.gpgKey('Fleet Signer');
    stranger = ring.gpgKey('Stranger');
    expired = ring.gpgKey('Old Signer', { at: '20200101T000000', expire: '1y' });
    revoked = ring.gpgKey('Revoked Signer');
    sshEd = ring.sshKey('ops-ed25519');
    sshRsa = ring.sshKey('ops-rsa', 'rsa');
    sshEcdsa = ring.sshKey('ops-ecdsa', 'ecdsa');
    sshStranger = ring.sshKey('stranger');
    allowed = ring.allowedSigners('allowed_signers', [sshEd, sshRsa, sshEcdsa]);
    execFileSync('git', ['init', '-q', '-b', 'main', repo]);
    git = gitIn(repo, ring);
    git('config', 'user.name', 'Fleet Operator');
    git('config', 'user.email', 'ops@example.com');
  });
  after(() => cleanup(dir));

  const policy = async (mode: 'head' | 'tag' = 'head') => ({
    keys: await readTrustedKeys([signer.publicFile, expired.publicFile, revoked.publicFile, allowed]),
    mode,
  });
  const refused = async (commit: string, why: RegExp, mode: 'head' | 'tag' = 'head') => {
    const err = await verifyCommit(gitdir, commit, await policy(mode)).then(
      () => assert.fail('accepted'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TrustError, String(err));
    assert.equal(err.kind, 'untrusted');
    assert.match(err.message, why);
  };

  test('a commit signed by a trusted OpenPGP key is accepted, naming the signer', async () => {
    const c = commitSigned(repo, ring, 'a.txt', '1', signer);
    assert.match(await verifyCommit(gitdir, c, await policy()), /Fleet Signer .*OpenPGP/);
  });

  for (const [name, key] of [
    ['ed25519', () => sshEd],
    ['RSA', () => sshRsa],
    ['ECDSA', () => sshEcdsa],
  ] as const)
    test(`a commit signed by a trusted SSH ${name} key (gpg.format ssh) is accepted`, async () => {
      const c = commitSigned(repo, ring, `ssh-${name}.txt`, name, key());
      assert.match(await verifyCommit(gitdir, c, await policy()), /SSH, .*allowed_signers:\d+/);
    });

  test('an unsigned commit is refused', async () => {
    await refused(commitSigned(repo, ring, 'b.txt', '2'), /is not signed; .*git commit -S/);
  });

  test('a commit signed by an OpenPGP key that is not trusted is refused, naming the key', async () => {
    await refused(commitSigned(repo, ring, 'c.txt', '3', stranger), /OpenPGP key [0-9A-F]{16}, which is not trusted/);
  });

  test('a commit signed by an SSH key that is not in allowed_signers is refused', async () => {
    await refused(commitSigned(repo, ring, 'd.txt', '4', sshStranger), /SSH key that is not trusted/);
  });

  test('a commit signed (back then) by a key that has since expired is refused', async () => {
    await refused(commitSigned(repo, ring, 'e.txt', '5', expired), /Old Signer.* expired on 202[01]-\d\d-\d\d/);
  });

  test('a commit signed by a key that was revoked afterwards is refused', async () => {
    const c = commitSigned(repo, ring, 'f.txt', '6', revoked);
    assert.match(await verifyCommit(gitdir, c, await policy()), /Revoked Signer/);
    ring.revoke(revoked);
    await refused(c, /Revoked Signer.* is revoked/);
  });

  /** The payload and signature of commit `c`, as the gate reads them. */
  const signedParts = (c: string) => {
    const raw = Buffer.from(git('cat-file', 'commit', c) + '\n', 'latin1');
    const { payload, signature } = splitSigned(raw, 'commit');
    assert.ok(signature, 'the commit carries a signature');
    return { payload, signature };
  };

  test('a gateway whose clock is behind the signature still trusts it, and says the clock is behind', async () => {
    const c = commitSigned(repo, ring, 'clock.txt', 'behind', signer);
    const { payload, signature } = signedParts(c);
    const behind = new Date(Date.now() - 3 * 3600_000);
    const r = await checkSignature(payload, signature, (await policy()).keys, behind);
    assert.ok(r.ok, r.ok ? '' : r.why);
    assert.match(r.signer, /Fleet Signer .*signed \d+h\d*m?\d*s? after this gateway's clock .*check its time/);
    const onTime = await checkSignature(payload, signature, (await policy()).keys);
    assert.ok(onTime.ok && !/clock/.test(onTime.signer), 'no clock note when the clock is right');
  });

  test('a clock behind does not revive a revoked key: its signature is refused', async () => {
    const key = ring.gpgKey('Compromised Signer');
    const c = commitSigned(repo, ring, 'clock-revoked.txt', 'late', key);
    ring.revoke(key);
    const { payload, signature } = signedParts(c);
    const keys = await readTrustedKeys([key.publicFile]);
    const r = await checkSignature(payload, signature, keys, new Date(Date.now() - 3 * 3600_000));
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.why, /Compromised Signer.* is revoked/);
  });

  for (const [name, key] of [
    ['OpenPGP', () => signer],
    ['SSH', () => sshEd],
  ] as const)
    test(`an ${name} signature moved onto other content is refused`, async () => {
      const c = commitSigned(repo, ring, `g-${name}.txt`, '7', key());
      const raw = git('cat-file', 'commit', c);
      const forged = raw.replace(/change g-\w+\.txt/, 'change nothing to see here');
      assert.notEqual(forged, raw);
      const file = join(dir, `forged-${name}`);
      writeFileSync(file, forged + '\n');
      const oid = git('hash-object', '-t', 'commit', '-w', file);
      await refused(oid, /does not (verify|match its content)/);
    });

  test('an SSH key allowed only for other namespaces is refused for git', async () => {
    const only = await readTrustedKeys([ring.allowedSigners('file-only', [sshEd], 'namespaces="file"')]);
    const c = commitSigned(repo, ring, 'h.txt', '8', sshEd);
    await assert.rejects(verifyCommit(gitdir, c, { keys: only, mode: 'head' }), /namespaces file, not git/);
  });

  test('mode tag: an unsigned commit with a signed tag by a trusted key is accepted; an unsigned tag not', async () => {
    const c = commitSigned(repo, ring, 'i.txt', '9');
    git('tag', '-a', 'v-unsigned', '-m', 'unsigned', c);
    await refused(c, /carries no tag signed by .*tag v-unsigned is not signed/, 'tag');
    git(...sshEd.gitConfig, 'tag', '-s', 'v1', '-m', 'release 1', c);
    assert.match(await verifyCommit(gitdir, c, await policy('tag')), /SSH.*tag v1/);
    const d = commitSigned(repo, ring, 'j.txt', '10');
    git(...signer.gitConfig, 'tag', '-s', 'v2', '-m', 'release 2', d);
    assert.match(await verifyCommit(gitdir, d, await policy('tag')), /Fleet Signer .*tag v2/);
    await refused(d, /is not signed/, 'head');
  });

  test('trusted keys files: a missing file, a private key and a malformed line are clear errors', async () => {
    await assert.rejects(readTrustedKeys([join(dir, 'nope')]), /cannot read the trusted keys file .*does not exist/);
    await assert.rejects(readTrustedKeys([sshEd.privateFile]), TrustedKeysError);
    const bad = join(dir, 'bad_signers');
    writeFileSync(bad, 'ops@example.com ssh-ed25519\n');
    await assert.rejects(readTrustedKeys([bad]), /bad_signers:1: expected "principals \[options\] keytype base64-key"/);
  });

  test('checkCommit: a commit that does not descend from the applied one is a rewrite, unless allowed', async () => {
    const older = git('rev-parse', 'HEAD~1');
    const head = git('rev-parse', 'HEAD');
    const err = await checkCommit(gitdir, older, head, { allowRewrite: false }).then(
      () => assert.fail('accepted'),
      (e: unknown) => e as TrustError,
    );
    assert.equal(err.kind, 'rewrite');
    assert.match(err.message, /does not descend from [0-9a-f]{12}, the commit this gateway runs/);
    assert.equal(await checkCommit(gitdir, older, head, { allowRewrite: true }), undefined);
    assert.equal(await checkCommit(gitdir, head, older, { allowRewrite: false }), undefined, 'a descendant passes');
  });

  test('ancestry: a later commit descends from an earlier one; the earlier one does not descend from it', async () => {
    const a = git('rev-parse', 'HEAD~2');
    const b = git('rev-parse', 'HEAD');
    assert.equal(await descendsFrom(gitdir, b, a), true);
    assert.equal(await descendsFrom(gitdir, a, b), false);
    git('checkout', '-q', '--orphan', 'other');
    const orphan = commitSigned(repo, ring, 'k.txt', '11');
    assert.equal(await descendsFrom(gitdir, orphan, a), false);
    git('checkout', '-q', 'main');
  });
});
