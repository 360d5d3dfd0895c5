// A self-signed certificate for 127.0.0.1 (ECDSA P-256), made with openssl for the HTTPS tests.

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function selfSignedCert(dir: string): { key: string; crt: string } {
  const key = join(dir, 'hub.key');
  const crt = join(dir, 'hub.crt');
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2'];
  args.push('-keyout', key, '-out', crt, '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1');
  execFileSync('openssl', args, { stdio: 'ignore' });
  return { key, crt };
}

export interface PrivateCa {
  /** The CA's certificate (PEM file), what a client is given to trust. */
  caCrt: string;
  /** A server's key and certificate for 127.0.0.1, signed by the CA (PEM text). */
  server: { key: string; cert: string };
}

/** A CA of its own (named `name`) and a certificate for 127.0.0.1 it signed, made with openssl in `dir`. */
export function privateCa(dir: string, name: string): PrivateCa {
  const f = (x: string) => join(dir, `${name}-${x}`);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  ossl('req', '-x509', ...ec, '-days', '2', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-subj', `/CN=${name}`);
  ossl('req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('ext'), 'subjectAltName=IP:127.0.0.1\n');
  ossl(
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    f('ext'),
    '-out',
    f('server.crt'),
  );
  return {
    caCrt: f('ca.crt'),
    server: { key: readFileSync(f('server.key'), 'utf8'), cert: readFileSync(f('server.crt'), 'utf8') },
  };
}
