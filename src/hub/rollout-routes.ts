// The hub's rollout routes: the pages (/rollouts, /rollouts/{id}, and /rollouts/{id}/failed: every
// gateway behind one of the page's failure reasons, which it lists only the first of), the admin's forms that act on a
// rollout, and the same views as JSON (/api/v1/rollouts, /api/v1/rollouts/{id}) for `rollgate fleet
// rollout`. All of it reads the fleet repo reader's last snapshot (never a fetch per view); without
// `--repo` the pages say how to give it and the API answers 404.

import type { Log } from '../base/log.js';
import { RolloutActionError } from '../rollout/index.js';
import { FleetRepoReader, type FleetRepoSpec, type RepoRead } from './fleet-repo.js';
import { noteFrom, type CommitNote } from './pages/commit-note.js';
import type { PromoterSettings } from './promoter-loop.js';
import { HttpError, json, readBody, redirect, sendHtml } from './http.js';
import { renderRolloutFailures, renderRolloutList, renderRolloutPage, type PageAccess } from './pages/rollouts.js';
import { failureReason, integer, rolloutId, rolloutTrack } from './params.js';
import { checkForm, csrfToken, reasonOf, ROLLOUT_ACTIONS, RolloutActions } from './rollout-actions.js';
import type { Route, RouteContext } from './routes.js';
import { rolloutView, type RolloutView, type RolloutViewOptions } from './rollout-view.js';
import { hubPath } from './html.js';
import type { Sql } from './db.js';
import { shortCommit } from '../base/short-commit.js';

export interface RolloutRouteDeps {
  reader: FleetRepoReader | undefined;
  actions: RolloutActions | undefined;
  log: Log;
}

const idParam = { id: { kind: rolloutId, description: 'the rollout, as rollgate-rollout.yaml names it' } };
const object = { description: 'JSON', content: { 'application/json': { schema: { type: 'object' } } } };

function readOf(d: RolloutRouteDeps): RepoRead | undefined {
  return d.reader?.read();
}

async function viewOf(db: Sql, d: RolloutRouteDeps, id: string, o: RolloutViewOptions = {}): Promise<RolloutView> {
  const read = readOf(d);
  if (!read) throw new HttpError(404, 'the hub does not read the fleet repo: start it with --repo <url|path>');
  const snap = read.snapshot;
  if (!snap)
    throw new HttpError(503, `the fleet repo has not been read yet${read.failed ? `: ${read.failed.message}` : ''}`);
  const r = snap.rollouts.find((x) => x.state.id === id);
  if (!r) throw new HttpError(404, `no rollout ${id} in the fleet repo's recent history`);
  return rolloutView(db, snap, r, o);
}

function access(c: RouteContext, d: RolloutRouteDeps): PageAccess {
  if (c.who?.role !== 'admin') return { noActions: 'Pause, resume, promote and abort are for admin tokens.' };
  if (!d.actions)
    return { noActions: 'This hub has no promoter (--promote-repo and a signing key), so it cannot act on rollouts.' };
  return c.token ? { csrf: csrfToken(c.token) } : {};
}

/** The fleet repo's reader (with --repo, else the promoter's repo) and the rollout routes of a hub. */
export function rolloutConsole(o: { repo?: FleetRepoSpec; promoter?: PromoterSettings; log: Log }): {
  reader: FleetRepoReader | undefined;
  routes: Route[];
} {
  const reader = o.repo ? new FleetRepoReader(o.repo, o.log) : undefined;
  const actions = o.promoter ? new RolloutActions(o.promoter) : undefined;
  return { reader, routes: rolloutRoutes({ reader, actions, log: o.log }) };
}

/** Subject lines and the head mark for commit ids on the other pages, from the last read. */
export function commitNotes(reader: FleetRepoReader | undefined): CommitNote {
  return noteFrom(reader?.read().snapshot);
}

export function rolloutRoutes(d: RolloutRouteDeps): Route[] {
  const page = { access: 'reader', page: true, hidden: true, responses: {} } as const;
  const forms = ROLLOUT_ACTIONS.map((action): Route => ({
    method: 'POST',
    path: `/rollouts/{id}/${action}`,
    access: 'admin',
    page: true,
    hidden: true,
    summary: `${action} a rollout (admin, a form of the rollout page)`,
    pathParams: idParam,
    responses: {},
    handle: async (c) => {
      const form = new URLSearchParams(await readBody(c.req, 16_384));
      // The token that authenticated this request: a form made for another session does not pass.
      checkForm(c.req, c.token ?? '', form);
      if (!d.actions)
        throw new HttpError(403, 'this hub has no promoter (--promote-repo and a signing key): it cannot act');
      const why = reasonOf(form);
      const id = c.path['id'] as string;
      const who = c.who!.role === 'gateway' ? '?' : (c.who as { name: string }).name;
      const by = `${who} (hub admin)`;
      try {
        const r = await d.actions.act(c.db, action, id, by, why);
        d.log.info(
          { rollout: id, action, by, commit: r.commit },
          `rollout ${id}: ${action} by ${by}${r.commit ? `, commit ${shortCommit(r.commit)}` : ''}: ${why}`,
        );
      } catch (err) {
        if (err instanceof RolloutActionError) throw new HttpError(409, err.message);
        throw err;
      }
      await d.reader?.refresh();
      redirect(c.res, hubPath('rollouts', id));
    },
  }));
  return [
    {
      ...page,
      method: 'GET',
      path: '/rollouts',
      summary: 'The rollouts',
      handle: async ({ res }) => sendHtml(res, renderRolloutList(readOf(d))),
    },
    {
      ...page,
      method: 'GET',
      path: '/rollouts/{id}',
      summary: 'One rollout',
      pathParams: idParam,
      handle: async (c) =>
        sendHtml(c.res, renderRolloutPage(await viewOf(c.db, d, c.path['id'] as string), readOf(d), access(c, d))),
    },
    {
      ...page,
      method: 'GET',
      path: '/rollouts/{id}/failed',
      summary: 'Every gateway of one wave that failed for one reason (the rollout page lists the first)',
      pathParams: idParam,
      query: {
        track: { kind: rolloutTrack, description: 'the track: fleet, or target:<name>' },
        wave: { kind: integer(1, 1000), description: 'the wave, from 1' },
        reason: { kind: failureReason, description: 'the failure, as the rollout page words it' },
      },
      handle: async (c) => {
        const { track, wave, reason } = c.query as { track?: string; wave?: number; reason?: string };
        if (!track || !wave || reason === undefined) throw new HttpError(400, 'give track, wave and reason');
        const v = await viewOf(c.db, d, c.path['id'] as string, { failuresListed: Infinity });
        const w = v.tracks.find((t) => t.track === track)?.waves[wave - 1];
        if (!w) throw new HttpError(404, `rollout ${v.id} has no wave ${wave} in track ${track}`);
        // A reason no gateway fails for (any more) is an empty list, said so on the page.
        const group = w.failures.find((f) => f.reason === reason) ?? { reason, count: 0, gateways: [] };
        sendHtml(c.res, renderRolloutFailures(v, track, w, group));
      },
    },
    ...forms,
    // Only a hub that reads a fleet repo serves (and documents) the rollouts' API.
    ...(d.reader ? apiRoutes(d) : []),
  ];
}

function apiRoutes(d: RolloutRouteDeps): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/rollouts',
      access: 'reader',
      summary: "The rollouts of the fleet repo's recent history, and how its last read went (hub --repo)",
      responses: { 200: object },
      handle: async ({ res }) => {
        const read = readOf(d);
        if (!read) throw new HttpError(404, 'the hub does not read the fleet repo: start it with --repo <url|path>');
        const s = read.snapshot;
        json(res, 200, {
          repo: s ? { name: s.repo, ref: s.ref, head: s.head, readAt: new Date(s.readAt).toISOString() } : null,
          ...(read.failed
            ? { failed: { at: new Date(read.failed.at).toISOString(), message: read.failed.message } }
            : {}),
          rollouts: (s?.rollouts ?? []).map((r) => ({
            id: r.state.id,
            state: r.state.state,
            base: r.state.base,
            target: r.state.target,
            current: r.current,
            steps: r.state.steps.length,
          })),
        });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/rollouts/{id}',
      access: 'reader',
      summary: 'One rollout: its waves with what the reports say, why it waits, its signed steps (hub --repo)',
      pathParams: idParam,
      responses: { 200: object },
      handle: async (c) => json(c.res, 200, await viewOf(c.db, d, c.path['id'] as string)),
    },
  ];
}
