// Download (prepare): everything that can fail without touching the device comes first (safety
// rule 1) — the artifact fetched and its sha256 checked, every artifact's signature checked, its
// compatibility, its header unpacked — then the interface's queries and Download. Its undo is
// Cleanup: nothing installed changed.

import { mkdir, open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DesiredComponent, StepOf } from '../../model/index.js';
import type { Log } from '../../base/log.js';
import { ARTIFACT_HEAD_BYTES, incompatibility, readArtifactHeader } from '../../manifest/mender-artifact.js';
import { RefusedError, type StepContext } from '../applier.js';
import type { StepResult } from '../step-handlers.js';
import { readRecord, type UpdateInFlight } from './component-record.js';
import { message, move, type InterfaceEnv } from './env.js';
import { parseChoice, parseNeedsUnpacked, parseSupportsRollback, type InterfaceTarget } from './protocol.js';
import { checkArtifactSignature, unpackArtifact } from './unpack-artifact.js';
import { makeStreams, prepareWorkDir, settleFiles, type StreamItem } from './work-dir.js';

/** Only the fields of a target, so records do not carry a desired component's artifact. */
export function targetOf(c: InterfaceTarget): InterfaceTarget {
  return {
    key: c.key,
    type: c.type,
    ...(c.id !== undefined ? { id: c.id } : {}),
    interface: c.interface,
    interfaceArgs: c.interfaceArgs,
    protocol: c.protocol,
  };
}

/** The component's artifact in the cache: fetched by URL or read from the fleet repo, its sha256 checked. */
export async function fetchArtifact(env: InterfaceEnv, c: DesiredComponent, log: Log): Promise<string> {
  const a = c.artifact;
  if (a.kind === 'url') {
    log.info({ component: c.key }, `downloading the artifact of ${c.key}`);
    return env.cache.fromUrl(a.url, a.sha256);
  }
  if (!env.repo)
    throw new Error(`the artifact of ${c.key} is ${a.path} in the fleet repo, but no repo was given to read it from`);
  const file = await env.repo.read(a.path, { maxBytes: Math.max(a.size, 1) });
  if (!file) throw new Error(`the artifact ${a.path} of ${c.key} is not in ${env.repo.label}`);
  return (await env.cache.fromBytes(file.bytes, a.path, a.sha256)).path;
}

/**
 * With artifact keys: every artifact this transaction downloads is fetched and its signature
 * checked before any interface is given one (once per transaction; every download step waits).
 */
function signaturesOf(env: InterfaceEnv, ctx: StepContext): Promise<void> {
  const keys = env.opts.artifactKeys ?? [];
  if (keys.length === 0 || !ctx.plan || !ctx.desired) return Promise.resolve();
  let p = env.signatures.get(ctx.txn);
  if (!p) {
    const desired = ctx.desired;
    const wanted = ctx.plan.prepare.flatMap((s) => (s.kind === 'download' ? [s.target.key] : []));
    p = Promise.all(
      wanted.map(async (key) => {
        const c = desired.components.find((x) => x.key === key);
        if (!c) return;
        try {
          await checkArtifactSignature(await fetchArtifact(env, c, ctx.log), keys);
        } catch (err) {
          if (err instanceof RefusedError) throw new RefusedError(err.kind, `${c.key} (${c.version}): ${err.message}`);
          throw err;
        }
      }),
    ).then(() => undefined);
    env.signatures.set(ctx.txn, p);
    p.catch(() => {}); // each download step awaits it and reports it
  }
  return p;
}

async function readHead(path: string, bytes: number): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export async function download(env: InterfaceEnv, step: StepOf<'download'>, ctx: StepContext): Promise<StepResult> {
  const key = step.target.key;
  const c = ctx.desired?.components.find((x) => x.key === key);
  if (!c) throw new Error(`component ${key} is not in the desired state`);
  // Everything that can fail without touching the device comes first (safety rule 1).
  await signaturesOf(env, ctx);
  const artifactPath = await fetchArtifact(env, c, ctx.log);
  if (c.compatible) {
    // An artifact from a store could not be checked when the repo was loaded: it is now, before anything runs.
    const head = await readHead(artifactPath, ARTIFACT_HEAD_BYTES);
    const why = incompatibility(
      await readArtifactHeader(head),
      { type: c.type, interface: c.interface },
      c.compatible.filter((t) => t !== c.type),
    );
    if (why) throw new Error(`${key}: ${why}; refused before anything runs`);
  }
  const dirs = env.dirs(key);
  const previous = await readRecord(dirs.record);
  const t: InterfaceTarget = {
    ...targetOf(c),
    ...(c.id === undefined && previous?.target.id ? { id: previous.target.id } : {}),
  };
  await mkdir(dirs.root, { recursive: true });
  await rm(dirs.payload, { recursive: true, force: true });
  await prepareWorkDir(
    dirs.work,
    {
      version: await env.protocolVersion(t.interface),
      artifactName: step.from ?? '',
      artifactGroup: '',
      deviceType: env.opts.deviceType ?? ctx.desired?.system ?? '',
    },
    true,
  );
  const unpackedInfo = await unpackArtifact(artifactPath, join(dirs.work, 'header'), dirs.payload, {
    ...(env.opts.artifactKeys ? { verifyKeys: env.opts.artifactKeys } : {}),
  }).catch((err: unknown) => {
    if (err instanceof RefusedError) throw new RefusedError(err.kind, `${key} (${c.version}): ${err.message}`);
    throw err;
  });
  await writeFile(join(dirs.work, 'header', 'artifact_name'), `${unpackedInfo.name}\n`);
  await writeFile(join(dirs.work, 'header', 'artifact_group'), `${unpackedInfo.group}\n`);
  await writeFile(join(dirs.work, 'header', 'payload_type'), `${unpackedInfo.payloadType}\n`);
  if (unpackedInfo.name !== c.version)
    throw new Error(`the artifact of ${key} is "${unpackedInfo.name}", not "${c.version}" as planned`);

  const unpacked = await env.ask(t, 'NeedsUnpackedArtifact', dirs.work, ctx.log, parseNeedsUnpacked);
  const withSizes = await env.ask(
    t,
    'ProvidePayloadFileSizes',
    dirs.work,
    ctx.log,
    (s) => parseChoice('ProvidePayloadFileSizes', s) === 'Yes',
  );
  const update: UpdateInFlight = {
    txn: ctx.txn,
    ...(step.from !== undefined ? { from: step.from } : {}),
    to: c.version,
    supportsRollback: false,
    unpacked,
    progress: 'downloading',
  };
  await env.save(dirs, {
    schema: 'rollgate.component/v1',
    target: t,
    ...(previous?.installed !== undefined ? { installed: previous.installed } : {}),
    update,
  });

  const items: StreamItem[] = unpacked
    ? unpackedInfo.files.map((name) => ({ name, path: join(dirs.payload, name), owned: true }))
    : [{ name: 'artifact.mender', path: artifactPath, owned: false }];
  await makeStreams(dirs.work, items);
  const r = await env.call(t, withSizes ? 'DownloadWithFileSizes' : 'Download', dirs.work, ctx.log, {
    feed: items,
    withSizes,
  });
  await settleFiles(dirs.work, items, r.consumed ?? new Set());
  // The protocol asks SupportsRollback once Download completed.
  update.supportsRollback = await env.ask(t, 'SupportsRollback', dirs.work, ctx.log, parseSupportsRollback);
  move(update, 'downloaded');
  await env.save(dirs, {
    schema: 'rollgate.component/v1',
    target: t,
    ...(previous?.installed !== undefined ? { installed: previous.installed } : {}),
    update,
  });
  if (!update.supportsRollback)
    ctx.log.warn(
      { component: key, interface: t.interface },
      `interface "${t.interface}" of ${key} does not support rollback: if this apply fails after installing ` +
        `it, ${key} stays on ${c.version}`,
    );
  ctx.log.info(
    { component: key, version: c.version, streamed: [...(r.consumed ?? [])] },
    `downloaded ${c.version} for ${key}`,
  );
  return {};
}

/** Undo of a download: Cleanup is all that is owed, and the work directory goes whatever it says. */
export async function undoDownload(env: InterfaceEnv, step: StepOf<'download'>, ctx: StepContext): Promise<void> {
  const key = step.target.key;
  const dirs = env.dirs(key);
  const rec = await readRecord(dirs.record);
  if (!rec?.update || rec.update.txn !== ctx.txn) return; // nothing of this transaction is left
  try {
    await env.call(rec.target, 'Cleanup', dirs.work, ctx.log);
  } catch (err) {
    ctx.log.warn(
      { component: key, err: message(err) },
      `Cleanup of ${key} failed; its work directory is removed anyway: ${message(err)}`,
    );
  }
  await env.forget(dirs, rec);
}
