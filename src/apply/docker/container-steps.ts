// The steps on a service's containers: create, start, stop, remove — each with its undo, and what
// a start or stop needs once the Engine came back from going away in the middle of a transaction.

import type { StepOf } from '../../model/index.js';
import type { StepContext, StepRecord } from '../applier.js';
import { keep, type HandlerTable, type StepResult } from '../step-handlers.js';
import { createContainer, removeCreated } from './container-create.js';
import {
  restartStopped,
  startContainer,
  startService,
  startTarget,
  stopContainer,
  stopStarted,
} from './container-start.js';
import { ignore, type DockerEnv } from './env.js';
import { statusOf } from './errors.js';

/** A container goes (finalize); the image it ran is kept in the record, a candidate for pruning. */
async function removeContainer(env: DockerEnv, step: StepOf<'remove'>): Promise<StepResult> {
  const id = step.containerId;
  let image: string | undefined;
  try {
    image = (await env.engine.call((d) => d.getContainer(id).inspect())).Config.Image;
  } catch (err) {
    if (statusOf(err) === 404) return { containerId: id };
    throw err;
  }
  await ignore(
    env.engine.call((d) => d.getContainer(id).remove({ force: true, v: false })),
    404,
    409,
  );
  return { containerId: id, ...(image ? { image } : {}) };
}

/** The Engine stopped it on its way down, and brings back only those with a restart policy: it runs again. */
async function resettleStart(
  env: DockerEnv,
  step: StepOf<'start'>,
  rec: StepRecord,
  ctx: StepContext,
): Promise<StepResult | undefined> {
  const t = step.target;
  const who = `${t.app}/${t.service}`;
  const id = rec.containerId ?? (await startTarget(env, step, ctx.txn));
  if (!id) return undefined;
  const state = (await env.engine.call((d) => d.getContainer(id).inspect())).State;
  if (state.Running) return undefined;
  const runs = await startContainer(env, id, who, ctx);
  ctx.log.info(
    { app: t.app, service: t.service, container: runs.slice(0, 12) },
    `${who} was stopped when the Engine went away; started again`,
  );
  return runs === id ? undefined : { containerId: runs };
}

/** `restart: always` brings a stopped container back with the Engine: it is stopped again. */
async function resettleStop(env: DockerEnv, step: StepOf<'stop'>, ctx: StepContext): Promise<undefined> {
  const t = step.target;
  const id = step.containerId;
  let state: { Running: boolean; Restarting: boolean };
  try {
    state = (await env.engine.call((d) => d.getContainer(id).inspect())).State;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
  if (!state.Running && !state.Restarting) return undefined;
  await ignore(
    env.engine.call((d) => d.getContainer(id).stop()),
    304,
    404,
  );
  ctx.log.info(
    { app: t.app, service: t.service },
    `the replaced container of ${t.app}/${t.service} came back with the Engine; stopped again`,
  );
  return undefined;
}

export const CONTAINER_STEPS = {
  create: {
    run: createContainer,
    // Found by label, so a create the crash cut short (no id in the journal) is found too.
    undo: (env, step, _rec, ctx) => removeCreated(env, step, ctx),
  },
  start: {
    run: startService,
    undo: stopStarted,
    resettle: resettleStart,
  },
  stop: {
    run: stopContainer,
    undo: (env, step, _rec, ctx) => restartStopped(env, step, ctx),
    resettle: (env, step, _rec, ctx) => resettleStop(env, step, ctx),
  },
  remove: {
    run: (env, step) => removeContainer(env, step),
    // Removed only in finalize, after the change is confirmed: nothing undoes it.
    undo: keep,
  },
} satisfies HandlerTable<'create' | 'start' | 'stop' | 'remove', DockerEnv>;
