// Reads the header of a `.mender` artifact (format version 3, and the name field of version 2):
// an outer tar holding `version`, `manifest`, `header.tar[.gz]`, `data/*`. The artifact name is
// the version a component `Provides` once the artifact is installed.

import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';

export interface ArtifactHeader {
  formatVersion: number;
  name: string;
  payloadTypes: string[];
  deviceTypes: string[];
}

/** The header sits right after two small files; a prefix of this size always holds it. */
export const ARTIFACT_HEAD_BYTES = 4 * 1024 * 1024;

async function tarEntries(bytes: Uint8Array, want: (name: string) => boolean): Promise<Map<string, Buffer>> {
  const found = new Map<string, Buffer>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      const keep = want(header.name);
      stream.on('data', (c: unknown) => {
        if (keep) chunks.push(c as Buffer);
      });
      stream.on('end', () => {
        if (keep) found.set(header.name, Buffer.concat(chunks));
        next();
      });
      stream.on('error', reject);
    });
    extract.on('finish', resolve);
    // A prefix read cuts the tar short; what was found before the cut is what we need.
    extract.on('error', () => resolve());
  });
  Readable.from([Buffer.from(bytes)]).pipe(extract);
  await done;
  return found;
}

export async function readArtifactHeader(bytes: Uint8Array): Promise<ArtifactHeader> {
  const outer = await tarEntries(bytes, (n) => n === 'version' || n.startsWith('header.tar'));
  const versionFile = outer.get('version');
  if (!versionFile) throw new Error('not a Mender artifact: no "version" entry in the outer tar');
  let formatVersion: number;
  try {
    const v = JSON.parse(versionFile.toString('utf8')) as { format?: string; version?: number };
    if (v.format !== 'mender' || typeof v.version !== 'number') throw new Error('bad format');
    formatVersion = v.version;
  } catch {
    throw new Error('not a Mender artifact: the "version" entry is not {"format":"mender",...}');
  }
  const headerName = [...outer.keys()].find((n) => n.startsWith('header.tar'));
  if (!headerName) throw new Error(`Mender artifact without a header.tar (format version ${formatVersion})`);
  let headerTar = outer.get(headerName)!;
  if (headerName === 'header.tar.gz') headerTar = gunzipSync(headerTar);
  else if (headerName !== 'header.tar')
    throw new Error(
      `Mender artifact header compressed as ${headerName}; rollgate reads gzip or uncompressed headers ` +
        `(mender-artifact write --compression gzip)`,
    );
  const inner = await tarEntries(headerTar, (n) => n === 'header-info');
  const info = inner.get('header-info');
  if (!info) throw new Error('Mender artifact header has no header-info');
  const h = JSON.parse(info.toString('utf8')) as {
    payloads?: { type?: string | null }[];
    updates?: { type?: string | null }[];
    artifact_provides?: { artifact_name?: string };
    artifact_name?: string;
    artifact_depends?: { device_type?: string[] };
    device_types_compatible?: string[];
  };
  const name = h.artifact_provides?.artifact_name ?? h.artifact_name;
  if (!name) throw new Error('Mender artifact header-info names no artifact_name');
  return {
    formatVersion,
    name,
    payloadTypes: (h.payloads ?? h.updates ?? []).map((p) => p.type ?? '').filter((t) => t !== ''),
    deviceTypes: h.artifact_depends?.device_type ?? h.device_types_compatible ?? [],
  };
}

/**
 * Why an artifact cannot go to a component, or undefined when it can: its device types must
 * name the component type (or, as artifacts built for a whole system do, one of the system's
 * types), and every payload must be of the interface's type.
 */
export function incompatibility(
  header: Pick<ArtifactHeader, 'name' | 'deviceTypes' | 'payloadTypes'>,
  component: { type: string; interface: string },
  systemTypes: readonly string[],
): string | undefined {
  const fits = [component.type, ...systemTypes];
  if (header.deviceTypes.length > 0 && !header.deviceTypes.some((d) => fits.includes(d))) {
    return (
      `artifact "${header.name}" is for device types ${header.deviceTypes.join(', ')}, and component type ` +
      `"${component.type}" is none of ` +
      `them${systemTypes.length ? ` (nor is the system type ${systemTypes.join(', ')})` : ''}`
    );
  }
  const wrong = header.payloadTypes.filter((t) => t !== component.interface);
  if (wrong.length > 0)
    return (
      `artifact "${header.name}" carries a ${wrong.join(', ')} payload, and component type ` +
      `"${component.type}" installs through interface "${component.interface}"`
    );
  return undefined;
}

/** The files of an artifact's first payload (`data/0000.tar[.gz]`), e.g. the manifest inside a manifest artifact. */
export async function readPayloadFiles(bytes: Uint8Array): Promise<Map<string, Buffer>> {
  const outer = await tarEntries(bytes, (n) => n.startsWith('data/0000.tar'));
  const name = [...outer.keys()][0];
  if (!name) throw new Error('the artifact has no payload data/0000.tar');
  let inner = outer.get(name)!;
  if (name === 'data/0000.tar.gz') inner = gunzipSync(inner);
  else if (name !== 'data/0000.tar')
    throw new Error(
      `the payload is compressed as ${name}; rollgate reads gzip or uncompressed payloads here (mender-artifact ` +
        `write --compression gzip)`,
    );
  return tarEntries(inner, () => true);
}
