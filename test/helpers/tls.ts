// A self-signed certificate for 127.0.0.1 (ECDSA P-256), made with openssl for the HTTPS tests.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export function selfSignedCert(dir: string): { key: string; crt: string } {
  const key = join(dir, 'hub.key');
  const crt = join(dir, 'hub.crt');
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2'];
  args.push('-keyout', key, '-out', crt, '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1');
  execFileSync('openssl', args, { stdio: 'ignore' });
  return { key, crt };
}
