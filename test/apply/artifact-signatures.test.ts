// Mender artifact signatures, as Mender Orchestrator's ArtifactVerifyKey: artifacts signed by
// `mender-artifact sign` with RSA and ECDSA keys made by openssl install; with a key set, an
// unsigned artifact, one signed by another key and one whose manifest.sig was tampered with are
// refused before any interface is given an artifact — no Download at all — and nothing is installed.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DeviceLab, requireMenderTools } from '../helpers/devices.js';

const skip = requireMenderTools();

const v = (n: number) => (type: string) => `${type}-v${n}`;

describe('artifact signatures (mender-artifact sign, RSA and ECDSA keys)', { skip }, () => {
  const lab = new DeviceLab();
  const keys = join(lab.root, 'keys');
  after(() => lab.close());

  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  before(() => {
    mkdirSync(keys, { recursive: true });
    // mender-artifact reads PKCS#1 RSA and SEC1 EC private keys.
    openssl('genrsa', '-traditional', '-out', join(keys, 'rsa.key'), '2048');
    openssl('rsa', '-in', join(keys, 'rsa.key'), '-pubout', '-out', join(keys, 'rsa.pub'));
    openssl('ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', join(keys, 'ec.key'));
    openssl('ec', '-in', join(keys, 'ec.key'), '-pubout', '-out', join(keys, 'ec.pub'));
    openssl('genrsa', '-traditional', '-out', join(keys, 'other.key'), '2048');
  });

  const sign = (rel: string, key: string) =>
    execFileSync('mender-artifact', ['sign', join(lab.repo, rel), '-k', join(keys, key)], { stdio: 'ignore' });
  const trusted = ['--artifact-key', join(keys, 'rsa.pub'), '--artifact-key', join(keys, 'ec.pub')];
  /** Calls that hand an artifact to an interface, or install anything. */
  const handedOn = () => lab.calls().filter((c) => / (Download|ArtifactInstall)$/.test(c));

  /** Each type's artifact of version n, built under its own name so every test starts clean. */
  function artifacts(n: number, signWith: (type: string) => string | undefined): void {
    lab.writeRepo((type) => {
      const rel = lab.artifact(type, `${type}-v${n}`);
      const key = signWith(type);
      if (key) sign(rel, key);
      return rel;
    });
  }

  test('signed with a trusted RSA key (gateway) and a trusted ECDSA key (RTOS): installed', async () => {
    lab.seed(v(1));
    artifacts(2, (type) => (type === 'gateway' ? 'rsa.key' : 'ec.key'));
    const r = await lab.apply({ args: trusted });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(lab.running(), { G13: 'gateway-v2', R456: 'rtos-v2', R998: 'rtos-v2' });
  });

  test('an unsigned artifact is refused before any Download; nothing is installed', async () => {
    lab.seed(v(2));
    artifacts(3, (type) => (type === 'gateway' ? 'rsa.key' : undefined));
    const r = await lab.apply({ args: trusted });
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.err, /rtos-v3\): the artifact is not signed, and this gateway installs only artifacts signed/);
    assert.deepEqual(handedOn(), [], 'no interface got a Download (not even G13, whose artifact is signed)');
    assert.deepEqual(lab.running(), { G13: 'gateway-v2', R456: 'rtos-v2', R998: 'rtos-v2' });
  });

  test('an artifact signed by a key the gateway does not trust is refused', async () => {
    lab.seed(v(2));
    artifacts(4, () => 'other.key');
    const r = await lab.apply({ args: trusted });
    assert.equal(r.code, 1);
    assert.match(r.err, /signature \(manifest\.sig\) does not verify with the artifact keys of this gateway/);
    assert.deepEqual(handedOn(), []);
  });

  test('a tampered manifest.sig is refused', async () => {
    lab.seed(v(2));
    artifacts(5, (type) => (type === 'gateway' ? 'rsa.key' : 'ec.key'));
    // Take the RTOS artifact apart, flip one byte of its signature, and put it back in order.
    const rel = 'artifacts/rtos-v5.mender';
    const dir = join(lab.root, 'tamper');
    mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['-xf', join(lab.repo, rel), '-C', dir]);
    const sig = Buffer.from(readFileSync(join(dir, 'manifest.sig'), 'utf8').trim(), 'base64');
    sig[10] = sig[10]! ^ 0xff;
    writeFileSync(join(dir, 'manifest.sig'), sig.toString('base64'));
    copyFileSync(join(lab.repo, rel), join(lab.root, 'untampered.mender'));
    const order = ['version', 'manifest', 'manifest.sig', 'header.tar.gz', 'data/0000.tar.gz'];
    execFileSync('tar', ['--format=gnu', '-cf', join(lab.repo, rel), '-C', dir, ...order]);
    const r = await lab.apply({ args: trusted });
    assert.equal(r.code, 1);
    assert.match(r.err, /rtos-v5\): the artifact's signature \(manifest\.sig\) does not verify/);
    assert.deepEqual(handedOn(), []);
    // The same artifact untampered is accepted: it was the flipped byte that failed.
    copyFileSync(join(lab.root, 'untampered.mender'), join(lab.repo, rel));
    const ok = await lab.apply({ args: trusted });
    assert.equal(ok.code, 0, ok.err);
  });

  test('without artifact keys, unsigned artifacts install as before', async () => {
    lab.seed(v(2));
    artifacts(6, () => undefined);
    const r = await lab.apply();
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(lab.running(), { G13: 'gateway-v6', R456: 'rtos-v6', R998: 'rtos-v6' });
  });

  test('a private key given as an artifact key is a clear error', async () => {
    lab.seed(v(2));
    artifacts(6, () => undefined);
    const r = await lab.apply({ args: ['--artifact-key', join(keys, 'rsa.key')] });
    assert.equal(r.code, 1);
    assert.match(r.err, /rsa\.key holds a private key; a gateway needs only the public key/);
  });
});
