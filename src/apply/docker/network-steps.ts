// Networks of an app: made with rollgate's labels, made again when their definition changed (with
// what it takes to put the old one back), removed when no longer declared. External networks are
// never planned, so never touched.

import type { NetworkTarget, StepOf } from '../../model/index.js';
import { UndoImpossibleError, type StepContext } from '../applier.js';
import { keep, type HandlerTable } from '../step-handlers.js';
import { DockerError, engineMessage, statusOf } from './errors.js';
import { findApp, ignore, ownerLabel, type DockerEnv } from './env.js';
import { LABEL, networkName, ownedBy } from './labels.js';

const engineNameOf = (step: { target: NetworkTarget; engineName?: string }) =>
  step.engineName ?? networkName(step.target.app, step.target.name);

/** A network as the Engine reports it, or undefined when there is none of that name. */
async function networkInfo(
  env: DockerEnv,
  name: string,
): Promise<{ Id: string; Labels?: Record<string, string> | undefined } | undefined> {
  try {
    return await env.engine.call((d) => d.getNetwork(name).inspect());
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

async function createNetwork(
  env: DockerEnv,
  step: StepOf<'create-network' | 'recreate-network'>,
  ctx: StepContext,
): Promise<void> {
  const e = env.engine;
  const t = step.target;
  const net = findApp(ctx, t.app).networks.find((n) => n.name === t.name);
  const name = engineNameOf(step);
  const ipam = net?.ipam
    ? {
        IPAM: {
          Driver: net.ipam.driver ?? 'default',
          Config: net.ipam.config.map((c) => ({
            ...(c.subnet ? { Subnet: c.subnet } : {}),
            ...(c.ipRange ? { IPRange: c.ipRange } : {}),
            ...(c.gateway ? { Gateway: c.gateway } : {}),
            ...(c.auxAddresses ? { AuxiliaryAddresses: c.auxAddresses } : {}),
          })),
          ...(net.ipam.options ? { Options: net.ipam.options } : {}),
        },
      }
    : {};
  try {
    await e.call((d) =>
      d.createNetwork({
        Name: name,
        CheckDuplicate: true,
        Driver: net?.driver ?? 'bridge',
        Internal: net?.internal ?? false,
        ...(net?.attachable ? { Attachable: true } : {}),
        ...(net?.enableIpv6 !== undefined ? { EnableIPv6: net.enableIpv6 } : {}),
        ...(net?.driverOpts ? { Options: net.driverOpts } : {}),
        ...ipam,
        Labels: {
          ...(net?.labels ?? {}),
          [LABEL.app]: t.app,
          [LABEL.network]: t.name,
          [LABEL.txn]: ctx.txn,
          ...ownerLabel(env),
          ...(net?.configHash ? { [LABEL.configHash]: net.configHash } : {}),
        },
      }),
    );
  } catch (err) {
    if (statusOf(err) !== 409) throw err;
    const info = await e.call((d) => d.getNetwork(name).inspect());
    if (info.Labels?.[LABEL.app] === t.app && !ownedBy(info.Labels, env.opts.owner))
      throw new DockerError(
        'engine',
        `a network named ${name} belongs to another rollgate instance (state directory owner ` +
          `${info.Labels?.[LABEL.owner]}); it is left alone: rename the app or remove that instance's app`,
      );
    if (info.Labels?.[LABEL.app] !== t.app)
      throw new DockerError(
        'engine',
        `a network named ${name} already exists and rollgate does not manage it; remove or rename it`,
      );
  }
}

async function recreateNetwork(env: DockerEnv, step: StepOf<'recreate-network'>, ctx: StepContext): Promise<void> {
  const t = step.target;
  const net = findApp(ctx, t.app).networks.find((n) => n.name === t.name);
  const name = engineNameOf(step);
  const cur = await networkInfo(env, name);
  if (cur && cur.Labels?.[LABEL.configHash] === net?.configHash) return; // made again already (a repeat)
  if (cur) {
    try {
      await ignore(
        env.engine.call((d) => d.getNetwork(name).remove()),
        404,
      );
    } catch (err) {
      throw new DockerError(
        'engine',
        `network ${name} of ${t.app} could not be removed to be made again: ${engineMessage(err)} (a ` +
          `container that rollgate does not manage may still be on it)`,
      );
    }
  }
  await createNetwork(env, step, ctx);
  ctx.log.info({ app: t.app, network: name }, `network ${name} of ${t.app} was made again with its new definition`);
}

/**
 * Undo of a recreate: the network made in this transaction goes, the one there was before is
 * made again as it was, and the containers that were on it are put back on it (a container
 * holds the ID of its network, so the old containers would not start on the new one otherwise).
 */
async function restoreNetwork(env: DockerEnv, step: StepOf<'recreate-network'>, ctx: StepContext): Promise<void> {
  const e = env.engine;
  const t = step.target;
  const name = engineNameOf(step);
  const cur = await networkInfo(env, name);
  if (cur && cur.Labels?.[LABEL.txn] !== ctx.txn) return; // never replaced: nothing to undo
  if (!step.previous)
    throw new UndoImpossibleError(
      `network ${name} of ${t.app} was made again and its previous settings are unknown; recreate it by hand`,
    );
  if (cur)
    await ignore(
      e.call((d) => d.getNetwork(name).remove()),
      404,
    );
  const p = step.previous;
  await e.call((d) =>
    d.createNetwork({
      Name: name,
      CheckDuplicate: true,
      Driver: p.driver,
      Internal: p.internal,
      Attachable: p.attachable,
      EnableIPv6: p.enableIpv6,
      Options: p.options,
      Labels: p.labels,
      IPAM: { Driver: p.ipam.driver, Config: p.ipam.config, Options: p.ipam.options },
    }),
  );
  const id = (await e.call((d) => d.getNetwork(name).inspect())).Id;
  for (const c of await e.call((d) =>
    d.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL.app}=${t.app}`] }) }),
  )) {
    const info = await e.call((d) => d.getContainer(c.Id).inspect());
    const ep = info.NetworkSettings.Networks?.[name];
    if (!ep || ep.NetworkID === id) continue;
    // The Engine adds the short id itself.
    const aliases = (ep.Aliases ?? []).filter((a: string) => !c.Id.startsWith(a));
    await ignore(
      e.call((d) => d.getNetwork(name).disconnect({ Container: c.Id, Force: true })),
      404,
      500,
    );
    await ignore(
      e.call((d) => d.getNetwork(name).connect({ Container: c.Id, EndpointConfig: { Aliases: aliases } })),
      409,
      403,
    );
  }
  ctx.log.info({ app: t.app, network: name }, `network ${name} of ${t.app} is back as it was, with its containers`);
}

/** A network this transaction made goes again; one that was there before is left. */
async function removeIfMade(env: DockerEnv, step: StepOf<'create-network'>, ctx: StepContext): Promise<void> {
  const name = engineNameOf(step);
  let labels: Record<string, string> | undefined;
  try {
    labels = (await env.engine.call((d) => d.getNetwork(name).inspect())).Labels;
  } catch (err) {
    if (statusOf(err) === 404) return;
    throw err;
  }
  if (labels?.[LABEL.txn] === ctx.txn)
    await ignore(
      env.engine.call((d) => d.getNetwork(name).remove()),
      404,
    );
}

export const NETWORK_STEPS = {
  'create-network': {
    run: async (env, step, ctx) => {
      await createNetwork(env, step, ctx);
      return {};
    },
    undo: (env, step, _rec, ctx) => removeIfMade(env, step, ctx),
  },
  'recreate-network': {
    run: async (env, step, ctx) => {
      await recreateNetwork(env, step, ctx);
      return {};
    },
    undo: (env, step, _rec, ctx) => restoreNetwork(env, step, ctx),
  },
  'remove-network': {
    run: async (env, step) => {
      await ignore(
        env.engine.call((d) => d.getNetwork(engineNameOf(step)).remove()),
        404,
      );
      return {};
    },
    undo: keep,
  },
} satisfies HandlerTable<'create-network' | 'recreate-network' | 'remove-network', DockerEnv>;
