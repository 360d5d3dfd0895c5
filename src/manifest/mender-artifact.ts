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
  else if (headerName !== 'header.tar') throw new Error(`Mender artifact header compressed as ${headerName}; rollgate reads gzip or uncompressed headers (mender-artifact write --compression gzip)`);
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
