// Why a connection to a server failed, in words that say what to check. Node's own errors name the
// system call's code (ENOTFOUND, ECONNREFUSED) and nothing else; a person reading "ENOTFOUND" at a
// gateway has to know that it is a name that does not resolve, and where names come from.

/** The code of a failed connection: on the error itself, or on its cause (fetch wraps it). */
export function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, i = 0; e && i < 4; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
  }
  return undefined;
}

const CERTIFICATE_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);

/** Whether the server's certificate was refused because no trusted CA signed it (a private CA). */
export function untrustedCertificate(err: unknown): boolean {
  const code = networkCode(err);
  return code !== undefined && CERTIFICATE_CODES.has(code);
}

/**
 * What went wrong reaching `url`, and what to check, for the codes a person can act on; undefined
 * for the others, which the caller shows as they are.
 */
export function networkReason(err: unknown, url: URL): string | undefined {
  const code = networkCode(err);
  if (code === undefined) return undefined;
  const host = url.hostname;
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  switch (code) {
    case 'ENOTFOUND':
      return (
        `the host name ${host} does not resolve (ENOTFOUND): check the host in the URL, and this machine's DNS ` +
        '(/etc/resolv.conf)'
      );
    case 'EAI_AGAIN':
      return (
        `the host name ${host} could not be resolved: no DNS server answered (EAI_AGAIN); check this machine's ` +
        'network and DNS (/etc/resolv.conf)'
      );
    case 'ECONNREFUSED':
      return `nothing listens on ${host} port ${port} (ECONNREFUSED): check the port in the URL, and the server`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no route to ${host} (${code}): check this machine's network, and the address in the URL`;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `${host} port ${port} did not answer (${code}): a firewall, or a server that is down`;
    default:
      return undefined;
  }
}
