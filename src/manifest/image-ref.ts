// What an image reference names, by Docker's rules. One definition for every part that asks: the
// gateway's policy (policy.registries) and the Docker applier's puller (whose credentials a pull
// sends) must agree on which registry an image comes from.

/** The registry of an image reference, as Docker resolves it (docker.io when none is named). */
export function registryOf(image: string): string {
  const first = image.split('/')[0]!;
  if (!image.includes('/') || (!first.includes('.') && !first.includes(':') && first !== 'localhost'))
    return 'docker.io';
  return first;
}
