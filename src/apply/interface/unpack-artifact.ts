// Unpacks a `.mender` artifact (format 3) for the work directory: the header files an interface
// may read, and the payload files, each checked against the artifact's own `manifest` sums.
// Streams throughout, so an artifact of any size costs a few buffers of memory.

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { artifactSignedBy, type ArtifactKey } from '../../trust/index.js';
import { RefusedError } from '../applier.js';

export interface UnpackedArtifact {
  name: string;
  group: string;
  payloadType: string;
  /** Payload file names, in artifact order; the files are in `payloadDir`. */
  files: string[];
}

export class ArtifactFormatError extends Error {
  override name = 'ArtifactFormatError';
}

const PLAIN_NAME = /^[^/\0]+$/;

async function collect(stream: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += (c as Buffer).length;
    if (n > limit) throw new ArtifactFormatError(`${what} is larger than ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

function decompressor(name: string): Transform {
  if (name.endsWith('.gz')) return createGunzip();
  if (name.endsWith('.tar')) return new PassThrough();
  throw new ArtifactFormatError(
    `${name} is compressed in a way rollgate does not read; build the artifact with "mender-artifact write ... ` +
      `--compression gzip" or none`,
  );
}

/** Iterates the entries of a tar stream, one at a time. */
async function eachEntry(
  source: Readable,
  onEntry: (header: tar.Header, body: Readable) => Promise<void>,
): Promise<void> {
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, body, next) => {
      // tar-stream's entries are streamx streams: track the end ourselves.
      let ended = false;
      body.on('end', () => {
        if (!ended) {
          ended = true;
          handled.then(
            () => next(),
            () => {},
          );
        }
      });
      const handled = onEntry(header, body as unknown as Readable).then(
        () => {
          body.resume(); // drain what the handler left unread; 'end' then calls next
        },
        (err: unknown) => {
          extract.destroy(err as Error);
          reject(err);
        },
      );
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  source.on('error', (e) => extract.destroy(e));
  // Stopped early (a handler threw): the file is closed now, not when it is collected.
  extract.on('close', () => source.destroy());
  source.pipe(extract);
  await done;
}

/** Why an artifact's signature does not pass with `keys`; undefined when it does. */
function signatureProblem(
  manifest: Buffer,
  signature: string | undefined,
  keys: readonly ArtifactKey[],
): RefusedError | undefined {
  if (signature === undefined)
    return new RefusedError(
      'untrusted',
      'the artifact is not signed, and this gateway installs only artifacts signed by one of its artifact ' +
        'keys (sign it with "mender-artifact sign -k <private key>")',
    );
  if (!artifactSignedBy(manifest, signature, keys))
    return new RefusedError(
      'untrusted',
      `the artifact's signature (manifest.sig) does not verify with the artifact key` +
        `${keys.length === 1 ? '' : 's'} of this gateway (${keys.map((k) => k.file).join(', ')})`,
    );
  return undefined;
}

const STOP = new Error('enough read');

/**
 * Checks an artifact's signature by reading only its first entries (version, manifest,
 * manifest.sig); throws RefusedError when it does not verify with `keys`.
 */
export async function checkArtifactSignature(artifactPath: string, keys: readonly ArtifactKey[]): Promise<void> {
  let manifest: Buffer | undefined;
  let signature: string | undefined;
  await eachEntry(createReadStream(artifactPath), async (header, body) => {
    if (header.name === 'manifest') manifest = await collect(body, 1 << 20, 'manifest');
    else if (header.name === 'manifest.sig')
      signature = (await collect(body, 64 * 1024, 'manifest.sig')).toString('latin1');
    else if (header.name !== 'version') throw STOP;
  }).catch((err: unknown) => {
    if (err !== STOP) throw err;
  });
  if (!manifest) throw new ArtifactFormatError('artifact has no manifest');
  const problem = signatureProblem(manifest, signature, keys);
  if (problem) throw problem;
}

/**
 * Unpacks `artifactPath` into `headerDir` (header files as the Update Module file API names
 * them) and `payloadDir` (payload files). Throws ArtifactFormatError on anything the artifact's
 * manifest does not vouch for.
 */
export async function unpackArtifact(
  artifactPath: string,
  headerDir: string,
  payloadDir: string,
  opts: { verifyKeys?: readonly ArtifactKey[] } = {},
): Promise<UnpackedArtifact> {
  const keys = opts.verifyKeys ?? [];
  let manifest: Buffer | undefined;
  let signature: string | undefined;
  let verified = keys.length === 0;
  /** With verification keys, nothing past the manifest is read before its signature verifies. */
  const verifySignature = () => {
    if (verified) return;
    if (!manifest) throw new ArtifactFormatError('artifact has no manifest');
    const problem = signatureProblem(manifest, signature, keys);
    if (problem) throw problem;
    verified = true;
  };
  await mkdir(headerDir, { recursive: true });
  await mkdir(payloadDir, { recursive: true });
  let sums: Map<string, string> | undefined;
  const seen = new Map<string, string>();
  let info:
    | { artifact_provides?: { artifact_name?: string; artifact_group?: string }; payloads?: { type?: string | null }[] }
    | undefined;
  const files: string[] = [];
  let payloads = 0;

  const hashed = (name: string) => {
    const h = createHash('sha256');
    const t = new Transform({
      transform(chunk: Buffer, _e, cb) {
        h.update(chunk);
        cb(null, chunk);
      },
      flush(cb) {
        seen.set(name, h.digest('hex'));
        cb();
      },
    });
    return t;
  };

  await eachEntry(createReadStream(artifactPath), async (header, body) => {
    const name = header.name;
    if (name === 'version') {
      const bytes = await collect(body, 4096, 'version');
      seen.set('version', createHash('sha256').update(bytes).digest('hex'));
      const v = JSON.parse(bytes.toString('utf8')) as {
        format?: string;
        version?: number;
      };
      if (v.format !== 'mender' || v.version !== 3)
        throw new ArtifactFormatError(
          `artifact format ${v.format} version ${v.version}; rollgate installs Mender artifacts of format version 3`,
        );
      return;
    }
    if (name === 'manifest') {
      sums = new Map();
      manifest = await collect(body, 1 << 20, 'manifest');
      for (const line of manifest.toString('utf8').split('\n')) {
        const m = /^([0-9a-f]{64})\s+(\S.*)$/.exec(line.trim());
        if (m) sums.set(m[2]!, m[1]!);
      }
      return;
    }
    if (name === 'manifest.sig') {
      signature = (await collect(body, 64 * 1024, 'manifest.sig')).toString('latin1');
      return;
    }
    verifySignature();
    if (name.startsWith('header.tar')) {
      const raw = await collect(body.pipe(hashed(name)), 16 << 20, name);
      await eachEntry(Readable.from([raw]).pipe(decompressor(name)), async (h, b) => {
        const bytes = await collect(b, 16 << 20, `${name}/${h.name}`);
        if (h.name === 'header-info') {
          info = JSON.parse(bytes.toString('utf8')) as typeof info;
          await writeFile(join(headerDir, 'header-info'), bytes);
        } else if (h.name === 'headers/0000/type-info') await writeFile(join(headerDir, 'type-info'), bytes);
        else if (h.name === 'headers/0000/meta-data') await writeFile(join(headerDir, 'meta-data'), bytes);
        else if (/^headers\/000[1-9]/.test(h.name))
          throw new ArtifactFormatError(
            'artifact carries more than one payload; update interfaces install one payload per artifact',
          );
      });
      return;
    }
    const data = /^data\/(\d{4})\.tar(\.gz|\.xz|\.zst|\.bz2)?$/.exec(name);
    if (data) {
      if (!sums) throw new ArtifactFormatError('artifact has data before its manifest');
      if (++payloads > 1)
        throw new ArtifactFormatError(
          'artifact carries more than one payload; update interfaces install one payload per artifact',
        );
      await eachEntry(body.pipe(decompressor(name)), async (h, b) => {
        if (h.type !== 'file' || !PLAIN_NAME.test(h.name) || h.name === '.' || h.name === '..')
          throw new ArtifactFormatError(`payload entry ${JSON.stringify(h.name)} is not a plain file`);
        const key = `data/${data[1]}/${h.name}`;
        await pipeline(b, hashed(key), createWriteStream(join(payloadDir, h.name)));
        files.push(h.name);
      });
      return;
    }
    throw new ArtifactFormatError(`unexpected entry ${JSON.stringify(name)} in the artifact`);
  });

  if (!sums) throw new ArtifactFormatError('artifact has no manifest');
  verifySignature();
  if (!info) throw new ArtifactFormatError('artifact has no header');
  for (const [name, actual] of seen) {
    const want = sums.get(name);
    if (want === undefined) throw new ArtifactFormatError(`${name} is not listed in the artifact manifest`);
    if (want !== actual)
      throw new ArtifactFormatError(
        `${name} has sha256 ${actual}, the artifact manifest says ${want}: the artifact is damaged`,
      );
  }
  for (const name of sums.keys())
    if (name.startsWith('data/') && !seen.has(name))
      throw new ArtifactFormatError(`${name} is in the artifact manifest but not in the artifact`);
  const artifactName = info.artifact_provides?.artifact_name;
  if (!artifactName) throw new ArtifactFormatError('artifact header names no artifact_name');
  return {
    name: artifactName,
    group: info.artifact_provides?.artifact_group ?? '',
    payloadType: info.payloads?.[0]?.type ?? '',
    files,
  };
}
