// The update-interface protocol (Mender Orchestrator compatible), the pure part: how an
// interface is invoked and what its query answers may be. Strict: an answer outside the
// protocol is an error that names the interface, the query and what it printed.

import { clip } from '../../base/redact.js';
import type { DesiredComponent } from '../../model/index.js';

/** The states, as opposed to the queries: each may run long and changes something. */
export const STATES = [
  'Download',
  'DownloadWithFileSizes',
  'ArtifactInstall',
  'ArtifactReboot',
  'ArtifactVerifyReboot',
  'ArtifactCommit',
  'ArtifactRollback',
  'ArtifactRollbackReboot',
  'ArtifactVerifyRollbackReboot',
  'ArtifactFailure',
  'Cleanup',
] as const;

export type InterfaceState = (typeof STATES)[number];

export const isState = (s: string): s is InterfaceState => (STATES as readonly string[]).includes(s);

export const QUERIES = [
  'SupportsRollback',
  'NeedsArtifactReboot',
  'NeedsUnpackedArtifact',
  'ProvidePayloadFileSizes',
  'Identity',
  'Provides',
  'Inventory',
] as const;

export type Query = (typeof QUERIES)[number];

export const isQuery = (s: string): s is Query => (QUERIES as readonly string[]).includes(s);

export type RebootNeed = 'No' | 'Yes' | 'Automatic';

/** What rollgate needs to call one component's interface. */
export type InterfaceTarget = Pick<
  DesiredComponent,
  'key' | 'type' | 'id' | 'interface' | 'interfaceArgs' | 'protocol'
>;

/**
 * The argument vector after the executable. The current form does not pass the component id
 * (the interface answers it through `Identity`); the 2024 form (`kind: update_manifest`) does.
 * Update Modules read the first two and ignore the rest, so they run under both.
 */
export function interfaceArgv(t: InterfaceTarget, state: InterfaceState | Query, workDir: string): string[] {
  if (t.protocol === 'update_manifest') return [state, workDir, t.type, t.id ?? t.key, ...t.interfaceArgs];
  return [state, workDir, t.type, ...t.interfaceArgs];
}

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

const YES_NO = ['Yes', 'No'] as const;
const single: Record<
  'SupportsRollback' | 'NeedsArtifactReboot' | 'NeedsUnpackedArtifact' | 'ProvidePayloadFileSizes',
  { values: readonly string[]; fallback: string }
> = {
  SupportsRollback: { values: YES_NO, fallback: 'No' },
  NeedsArtifactReboot: { values: ['No', 'Yes', 'Automatic'], fallback: 'No' },
  NeedsUnpackedArtifact: { values: YES_NO, fallback: 'Yes' },
  ProvidePayloadFileSizes: { values: YES_NO, fallback: 'No' },
};

function lines(stdout: string): string[] {
  const out = stdout.replace(/\r\n/g, '\n').split('\n');
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out;
}

/** What an interface answered, quoted; a long answer is cut (its secrets scrubbed first: ../../base/redact.ts). */
const shown = (s: string) => JSON.stringify(clip(s, 200, 'start'));

/** A single-line query: one line from a known set; empty output means the protocol's default. */
export function parseChoice(query: keyof typeof single, stdout: string): string {
  const spec = single[query];
  const ls = lines(stdout);
  if (ls.length === 0) return spec.fallback;
  if (ls.length > 1) throw new ProtocolError(`${query} must answer one line, got ${ls.length}: ${shown(stdout)}`);
  const v = ls[0]!.trim();
  if (v === '') return spec.fallback;
  if (!spec.values.includes(v))
    throw new ProtocolError(`${query} must answer ${spec.values.join(', ')} or nothing, got ${shown(v)}`);
  return v;
}

export const parseSupportsRollback = (stdout: string): boolean => parseChoice('SupportsRollback', stdout) === 'Yes';
export const parseNeedsReboot = (stdout: string): RebootNeed =>
  parseChoice('NeedsArtifactReboot', stdout) as RebootNeed;
export const parseNeedsUnpacked = (stdout: string): boolean => parseChoice('NeedsUnpackedArtifact', stdout) === 'Yes';

/** `Identity`: exactly one `id=<component id>` line. */
export function parseIdentity(stdout: string): string {
  const ls = lines(stdout);
  if (ls.length !== 1)
    throw new ProtocolError(
      `Identity must answer one line "id=<component id>", got ${ls.length} lines: ${shown(stdout)}`,
    );
  const m = /^id=(.+)$/.exec(ls[0]!.trim());
  if (!m) throw new ProtocolError(`Identity must answer "id=<component id>", got ${shown(ls[0]!)}`);
  return m[1]!;
}

/** `Provides` and `Inventory`: `key=value` lines; a repeated key makes a list. */
export function parseKeyValues(query: 'Provides' | 'Inventory', stdout: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [i, raw] of lines(stdout).entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new ProtocolError(`${query} answers "key=value" lines; line ${i + 1} is ${shown(raw)}`);
    (out[line.slice(0, eq)] ??= []).push(line.slice(eq + 1));
  }
  return out;
}

/**
 * The version a component provides: `rootfs-image.<interface>.version`, else
 * `rootfs-image.version`, else `artifact_name`, else `version`. Undefined when the answer names none of them
 * (Update Modules answer nothing; rollgate then uses what it last committed).
 */
export function providedVersion(provides: Record<string, string[]>, iface: string): string | undefined {
  // `version`: what module-image artifacts provide (`--provides version:<name>`), as Mender's demo interfaces report
  // it.
  for (const key of [`rootfs-image.${iface}.version`, 'rootfs-image.version', 'artifact_name', 'version']) {
    const v = provides[key];
    if (v === undefined) continue;
    if (v.length > 1) throw new ProtocolError(`Provides names ${key} ${v.length} times`);
    return v[0];
  }
  return undefined;
}
