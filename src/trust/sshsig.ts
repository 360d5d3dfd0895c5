// SSH signatures as `ssh-keygen -Y sign` makes them and git stores them (gpg.format ssh), verified
// with node:crypto over the format OpenSSH documents in PROTOCOL.sshsig: an armored blob holding
// the signer's public key, a namespace ("git"), the hash algorithm and the signature over
// "SSHSIG" ‖ namespace ‖ reserved ‖ hash algorithm ‖ H(message).

import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';

export class SshSigError extends Error {
  override name = 'SshSigError';
}

/** Reads SSH wire-format fields: uint32 lengths, strings, mpints. */
class Wire {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  u32(): number {
    if (this.at + 4 > this.buf.length) throw new SshSigError('truncated SSH data');
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  bytes(): Buffer {
    const n = this.u32();
    if (this.at + n > this.buf.length) throw new SshSigError('truncated SSH data');
    const v = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  string(): string {
    return this.bytes().toString('latin1');
  }
  raw(n: number): Buffer {
    if (this.at + n > this.buf.length) throw new SshSigError('truncated SSH data');
    const v = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  get done(): boolean {
    return this.at === this.buf.length;
  }
}

const str = (b: Buffer | string) => {
  const data = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
};
const b64u = (b: Buffer) => b.toString('base64url');
/** An mpint without its sign byte, left-padded to `size` bytes. */
const unsigned = (b: Buffer, size?: number) => {
  let v = b;
  while (v.length > 1 && v[0] === 0) v = v.subarray(1);
  return size && v.length < size ? Buffer.concat([Buffer.alloc(size - v.length), v]) : v;
};

const CURVES: Record<string, { crv: string; size: number; hash: string }> = {
  nistp256: { crv: 'P-256', size: 32, hash: 'sha256' },
  nistp384: { crv: 'P-384', size: 48, hash: 'sha384' },
  nistp521: { crv: 'P-521', size: 66, hash: 'sha512' },
};

export interface SshPublicKey {
  /** ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ... */
  type: string;
  /** The key's wire blob: what an allowed_signers line carries in base64. */
  blob: Buffer;
  key: KeyObject;
}

/** A public key from its wire blob (the base64 of an authorized_keys or allowed_signers line). */
export function sshPublicKey(blob: Buffer): SshPublicKey {
  const w = new Wire(blob);
  const type = w.string();
  let jwk: Record<string, string>;
  if (type === 'ssh-ed25519') jwk = { kty: 'OKP', crv: 'Ed25519', x: b64u(w.bytes()) };
  else if (type === 'ssh-rsa') {
    const e = unsigned(w.bytes());
    const n = unsigned(w.bytes());
    jwk = { kty: 'RSA', e: b64u(e), n: b64u(n) };
  } else if (type.startsWith('ecdsa-sha2-')) {
    const curve = CURVES[w.string()];
    if (!curve) throw new SshSigError(`SSH key type ${type} is not supported`);
    const q = w.bytes();
    if (q[0] !== 4 || q.length !== 1 + 2 * curve.size) throw new SshSigError(`malformed ${type} public key`);
    jwk = {
      kty: 'EC',
      crv: curve.crv,
      x: b64u(q.subarray(1, 1 + curve.size)),
      y: b64u(q.subarray(1 + curve.size)),
    };
  } else
    throw new SshSigError(
      `SSH key type ${type} is not supported (ssh-ed25519, ssh-rsa and ecdsa-sha2-nistp256/384/521 are; ` +
        'security-key types need the token at verification time)',
    );
  return { type, blob, key: createPublicKey({ key: jwk, format: 'jwk' }) };
}

export interface SshSignature {
  publicKey: SshPublicKey;
  namespace: string;
  hashAlgorithm: string;
  signatureType: string;
  signature: Buffer;
}

const ARMOR = /-----BEGIN SSH SIGNATURE-----([\s\S]*?)-----END SSH SIGNATURE-----/;

export function isSshSignature(text: string): boolean {
  return ARMOR.test(text);
}

export function parseSshSignature(armored: string): SshSignature {
  const m = ARMOR.exec(armored);
  if (!m) throw new SshSigError('not an SSH signature (no BEGIN SSH SIGNATURE block)');
  const blob = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
  const w = new Wire(blob);
  if (w.raw(6).toString('latin1') !== 'SSHSIG') throw new SshSigError('not an SSHSIG blob (bad magic)');
  const version = w.u32();
  if (version !== 1) throw new SshSigError(`SSHSIG version ${version} is not supported (1 is)`);
  const publicKey = sshPublicKey(w.bytes());
  const namespace = w.string();
  w.bytes(); // reserved
  const hashAlgorithm = w.string();
  const sig = new Wire(w.bytes());
  const signatureType = sig.string();
  const signature = sig.bytes();
  if (hashAlgorithm !== 'sha512' && hashAlgorithm !== 'sha256')
    throw new SshSigError(`SSHSIG hash algorithm ${hashAlgorithm} is not supported`);
  return { publicKey, namespace, hashAlgorithm, signatureType, signature };
}

/** Whether `sig` is a valid signature over `message` in `namespace` by the key inside it. */
export function verifySshSignature(sig: SshSignature, message: Buffer, namespace: string): boolean {
  if (sig.namespace !== namespace) return false;
  const signed = Buffer.concat([
    Buffer.from('SSHSIG', 'latin1'),
    str(namespace),
    str(''),
    str(sig.hashAlgorithm),
    str(createHash(sig.hashAlgorithm).update(message).digest()),
  ]);
  const t = sig.signatureType;
  const key = sig.publicKey.key;
  if (t === 'ssh-ed25519') return verify(null, signed, key, sig.signature);
  if (t === 'rsa-sha2-512' || t === 'rsa-sha2-256') {
    if (sig.publicKey.type !== 'ssh-rsa') return false;
    return verify(t === 'rsa-sha2-512' ? 'sha512' : 'sha256', signed, key, sig.signature);
  }
  if (t.startsWith('ecdsa-sha2-')) {
    const curve = CURVES[t.slice('ecdsa-sha2-'.length)];
    if (!curve || sig.publicKey.type !== t) return false;
    const w = new Wire(sig.signature);
    const r = unsigned(w.bytes(), curve.size);
    const s = unsigned(w.bytes(), curve.size);
    return verify(curve.hash, signed, { key, dsaEncoding: 'ieee-p1363' }, Buffer.concat([r, s]));
  }
  // ssh-rsa (SHA-1) signatures are refused, as OpenSSH refuses them.
  return false;
}
