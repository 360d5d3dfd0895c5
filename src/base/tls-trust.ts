// The certificate authorities a TLS client of rollgate trusts. Node's `ca` option replaces the
// default trust instead of adding to it, so a private CA given on its own would stop every public
// one (and those of NODE_EXTRA_CA_CERTS) from being trusted.

import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';

/** Node's default CAs (its bundled roots and the file of NODE_EXTRA_CA_CERTS), and `extra` besides. */
export function withDefaultCas(extra: string): string[] {
  const out = [...rootCertificates];
  const file = process.env['NODE_EXTRA_CA_CERTS'];
  if (file) {
    try {
      out.push(readFileSync(file, 'utf8'));
    } catch {
      // Node itself warns at start about a NODE_EXTRA_CA_CERTS it cannot read.
    }
  }
  out.push(extra);
  return out;
}
