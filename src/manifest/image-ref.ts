// What an image reference names, by Docker's rules. One definition for every part that asks: the
// gateway's policy (policy.registries) and the Docker applier's puller (whose credentials a pull
// sends) must agree on which registry an image comes from — and with Docker itself, or a policy
// that allows docker.io would let through a name the Engine sends to another host.

/** Docker Hub's old name, which Docker rewrites to docker.io. */
const LEGACY_HUB = 'index.docker.io';

/**
 * The registry of an image reference, as Docker's reference parser splits it: the first part of a
 * name with a slash is a registry when it has a dot or a port, is `localhost`, or has a capital
 * letter (a repository path never may); otherwise the image is on Docker Hub (docker.io).
 */
export function registryOf(image: string): string {
  const slash = image.indexOf('/');
  if (slash === -1) return 'docker.io';
  const first = image.slice(0, slash);
  const named = /[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase();
  if (!named || first === LEGACY_HUB) return 'docker.io';
  return first;
}

/** Registry names compared as host names are (without regard to case), Docker Hub's old name as Docker Hub. */
export function sameRegistry(a: string, b: string): boolean {
  const canonical = (r: string) => (r.toLowerCase() === LEGACY_HUB ? 'docker.io' : r.toLowerCase());
  return canonical(a) === canonical(b);
}
