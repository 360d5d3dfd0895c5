import type { DeviceIdentity } from '../model/index.js';

/** `--id` and repeated `--label key=value` into a device identity. */
export function parseIdentity(id: string | undefined, labels: string[]): DeviceIdentity {
  if (!id)
    throw new Error('a gateway identity is needed: --id <gateway id> (and --label key=value for label targeting)');
  const out: Record<string, string> = {};
  for (const l of labels) {
    const eq = l.indexOf('=');
    if (eq <= 0) throw new Error(`--label takes key=value, got "${l}"`);
    out[l.slice(0, eq)] = l.slice(eq + 1);
  }
  return { id, labels: out };
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
