// Whether a host is this machine: where plain http may carry a token, since nobody is on the path.

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}
