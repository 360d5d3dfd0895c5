// The guard that rollgate handles a Compose file as Docker Compose does: every real file of
// test/fixtures/compose-real2, unchanged, brought up on the test Engine by Docker Compose v2 and
// then by rollgate (the Docker applier, as the agent runs it), one after the other; the containers,
// networks and volumes each made are inspected and compared field by field. A difference is either
// in ALLOWED (test/helpers/compose-allowed.ts), with its reason, or the test fails naming it. Images
// are one fake image (see test/helpers/compose-fidelity.ts) tagged under every name the files use.
//
// What the test Engine cannot give, the harness gives both tools alike, and no file is edited:
// - one fake image, tagged under every image name, holding the fake at every program path the files
//   name (entrypoints, healthcheck commands, /bin/sh), /etc/passwd and /etc/group entries for the
//   user and group names they use, and a healthcheck of its own, as many real images have;
// - host devices a file maps that this machine lacks, made for the run as twins of /dev/null;
// - external networks and volumes, made before both tools run, as their users make them;
// - long-syntax bind sources under the run's folder that are not there, made before both run;
// - one HOME for both: Compose's environment, rollgate's gateway variable and `~`.
// Files that still cannot run here are in SKIPPED, each with its reason; slow ones in SLOW.
//
// Compose v2 comes from scripts/get-compose-v2.sh (.ci/run calls it): under CI=true its absence fails
// the run; elsewhere the comparison is skipped with a loud line.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { parse } from 'yaml';
import { DockerApplier, Engine, hostPaths, LABEL } from '../../src/apply/index.js';
import { silentLog } from '../../src/base/log.js';
import { reconcileOnce } from '../../src/gateway/reconcile.js';
import { DirectorySource, loadDesiredState } from '../../src/manifest/index.js';
import {
  compose,
  composeBinary,
  composeFileOf,
  fakeImage,
  fakeNeeds,
  snapshot,
  type ComposeModel,
  type Made,
} from '../helpers/compose-fidelity.js';
import { requireDocker } from '../helpers/docker-tests.js';
import { cleanup, projectRoot, tempDir } from '../helpers/fixtures.js';
import { readdirSync } from 'node:fs';

import { ALLOWED, type Seen } from '../helpers/compose-allowed.js';
import { flattenContainer, flattenObject, type Context } from '../helpers/compose-flatten.js';

const env = requireDocker();
const bin = composeBinary();
if (env && !bin) {
  const why = 'Docker Compose v2 is missing: run scripts/get-compose-v2.sh (it caches the binary)';
  if (process.env['CI'] === 'true') throw new Error(`CI=true, and the Compose comparison cannot run: ${why}`);
  process.stderr.write(`\n!!! SKIPPING the comparison with Docker Compose v2: ${why}\n\n`);
}
const FIXTURES = join(projectRoot, 'test/fixtures/compose-real2');

/** Files that cannot be compared on the test Engine, and why. */
const SKIPPED: Record<string, string> = {
  'n8n-subfolder-ssl':
    'its "initContainer" must exit (service_completed_successfully) before n8n starts, and the fake image sleeps',
  'thingsboard-gateway': "it publishes port 5000, where the test suite's own registry listens",
  'wazuh-single-node': 'its ulimits (nofile 655360) are above what this machine lets the Engine give',
  'edgex-remote-ssh':
    'a privileged container with pid: host and no-new-privileges, which runc on this machine cannot start ' +
    '("unable to apply caps"), whoever asks',
};

/**
 * Files whose healthchecks make the run long (every service_healthy waits for a first check, an
 * `interval` after the start, once per tool): compared with ROLLGATE_COMPOSE_ALL=1.
 */
const SLOW: Record<string, string> = {
  'dl-espocrm': 'three services wait for a healthcheck run every 60 s (about 2.5 minutes for both tools)',
};
const ALL = process.env['ROLLGATE_COMPOSE_ALL'] === '1';

interface Diff {
  file: string;
  what: string;
  path: string;
  compose: string | undefined;
  rollgate: string | undefined;
}

const stats = { files: 0, containers: 0, networks: 0, volumes: 0, fields: 0, allowed: new Map<string, number>() };

function compare(
  file: string,
  what: string,
  service: string | undefined,
  c: Map<string, string>,
  r: Map<string, string>,
  diffs: Diff[],
): void {
  for (const path of new Set([...c.keys(), ...r.keys()])) {
    stats.fields++;
    const cv = c.get(path);
    const rv = r.get(path);
    if (cv === rv) continue;
    const seen: Seen = { compose: cv, rollgate: rv, path, service, composeAll: c, rollgateAll: r };
    const rule = ALLOWED.find((a) => a.path.test(path) && a.holds(seen));
    if (rule) stats.allowed.set(rule.why, (stats.allowed.get(rule.why) ?? 0) + 1);
    else diffs.push({ file, what, path, compose: cv, rollgate: rv });
  }
}

describe(
  'Docker Compose v2 and rollgate make the same containers of real Compose files',
  { skip: env && bin ? false : 'no Docker Engine or no Compose v2 (see the line above)' },
  () => {
    let engine: Engine;
    let docker: Docker;
    let root: string;
    let stateDir: string;
    let home: string;
    const slugs = readdirSync(FIXTURES)
      .filter((d) => d !== 'SOURCES.md')
      .sort();
    const models = new Map<string, ComposeModel>();
    const named = new Map<string, boolean>();

    const repoOf = (slug: string) => join(root, slug);
    const projectDirOf = (slug: string) => join(root, slug, 'apps', slug);

    before(async () => {
      engine = new Engine({ socketPath: env!.socket, reconnectMs: 60_000 });
      docker = engine.docker;
      root = tempDir('rollgate-fidelity-');
      stateDir = join(root, '.state');
      home = join(root, '.home');
      mkdirSync(stateDir);
      mkdirSync(home);
      const refs = new Set<string>();
      for (const slug of slugs) {
        const file = composeFileOf(join(FIXTURES, slug))!;
        cpSync(join(FIXTURES, slug), projectDirOf(slug), { recursive: true });
        writeFileSync(
          join(repoOf(slug), 'rollgate.yaml'),
          `apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  s:\n    apps:\n      ${slug}: apps/${slug}/${file}\n` +
            `targets:\n  - name: all\n    match: { any: true }\n    system: s\n`,
        );
        const top = parse(readFileSync(join(FIXTURES, slug, file), 'utf8'), { merge: true }) as Record<string, unknown>;
        named.set(slug, typeof top['name'] === 'string');
        const r = compose(
          bin!,
          { cwd: projectDirOf(slug), socket: env!.socket, home, file, ...(named.get(slug) ? {} : { project: slug }) },
          ['config', '--format', 'json'],
        );
        assert.equal(r.status, 0, `docker compose config of ${slug}:\n${r.out}`);
        const model = JSON.parse(r.stdout) as ComposeModel;
        models.set(slug, model);
        for (const s of Object.values(model.services)) if (s.image) refs.add(s.image);
      }
      await fakeImage(docker, fakeNeeds([...models.values()]), refs);
    });

    after(() => {
      const allowed = [...stats.allowed].map(([why, n]) => `    ${n} × ${why}`).join('\n');
      process.stdout.write(
        `\nCompose v2 against rollgate: ${stats.files} files, ${stats.containers} containers, ${stats.networks} ` +
          `networks, ${stats.volumes} volumes, ${stats.fields} fields compared; allowed differences:\n${allowed}\n`,
      );
      if (process.env['ROLLGATE_COMPOSE_REPORT'])
        writeFileSync(
          process.env['ROLLGATE_COMPOSE_REPORT'],
          JSON.stringify({ ...stats, allowed: Object.fromEntries(stats.allowed) }, null, 2),
        );
      if (root) cleanup(root);
    });

    /** Host devices a file maps that this machine lacks: made as /dev/null's twins for the run, then removed. */
    function makeDevices(model: ComposeModel): string[] {
      const made: string[] = [];
      for (const s of Object.values(model.services))
        for (const d of s.devices ?? []) {
          const src = typeof d === 'string' ? d.split(':')[0]! : d.source;
          if (!src.startsWith('/dev/') || existsSync(src)) continue;
          mkdirSync(dirname(src), { recursive: true });
          spawnSync('mknod', ['-m', '0666', src, 'c', '1', '3']);
          made.push(src);
        }
      return made;
    }

    /**
     * Bind sources outside the project that a long-syntax bind names and that are not there: Compose refuses
     * them (the Engine does not create them), rollgate makes them; made here for both, in the run's folder.
     */
    function makeBindSources(model: ComposeModel, projectDir: string): void {
      for (const s of Object.values(model.services))
        for (const v of s.volumes ?? [])
          if (
            v.type === 'bind' &&
            v.source?.startsWith(root + '/') &&
            !v.source.startsWith(projectDir + '/') &&
            !existsSync(v.source)
          )
            mkdirSync(v.source, { recursive: true });
    }

    /** External networks and volumes: made before both tools run, as their users make them. */
    async function makeExternal(model: ComposeModel): Promise<() => Promise<void>> {
      const nets = Object.entries(model.networks ?? {}).filter(([, n]) => n.external);
      const vols = Object.entries(model.volumes ?? {}).filter(([, v]) => v.external);
      for (const [k, n] of nets) await docker.createNetwork({ Name: n.name ?? k });
      for (const [k, v] of vols) await docker.createVolume({ Name: v.name ?? k });
      return async () => {
        for (const [k, n] of nets) await docker.getNetwork(n.name ?? k).remove();
        for (const [k, v] of vols) await docker.getVolume(v.name ?? k).remove();
      };
    }

    async function removeRollgateApp(app: string): Promise<void> {
      const filters = JSON.stringify({ label: [`${LABEL.app}=${app}`] });
      for (const c of await docker.listContainers({ all: true, filters }))
        await docker.getContainer(c.Id).remove({ force: true, v: true });
      for (const n of await docker.listNetworks({ filters })) await docker.getNetwork(n.Id).remove();
      for (const v of (await docker.listVolumes({ filters })).Volumes ?? []) await docker.getVolume(v.Name).remove();
    }

    // Left out, each for its reason (not skipped tests: under CI=true nothing is skipped); the list
    // names real files of the set, so it cannot go stale unnoticed.
    const leftOut = new Map<string, string>();
    for (const slug of slugs) {
      const why = SKIPPED[slug] ?? (ALL ? undefined : SLOW[slug] && `${SLOW[slug]}; ROLLGATE_COMPOSE_ALL=1 runs it`);
      if (why) leftOut.set(slug, why);
    }
    test('the files left out of the comparison are files of the set, each with its reason', (t) => {
      for (const name of [...Object.keys(SKIPPED), ...Object.keys(SLOW)])
        assert.ok(slugs.includes(name), `${name} is in compose-real2`);
      for (const [slug, why] of leftOut) t.diagnostic(`left out: ${slug}: ${why}`);
    });

    for (const slug of slugs.filter((s) => !leftOut.has(s))) {
      test(slug, async () => {
        const file = composeFileOf(join(FIXTURES, slug))!;
        const model = models.get(slug)!;
        const project = model.name;
        // rollgate reads the repo before Compose runs (Compose makes the directories it binds).
        // Both get the same HOME: Compose in its environment, rollgate as the gateway's variable and for `~`.
        const desired = await loadDesiredState(
          new DirectorySource(repoOf(slug)),
          { id: 'gw', labels: {} },
          { variables: { HOME: home } },
        );
        const devices = makeDevices(model);
        makeBindSources(model, projectDirOf(slug));
        const dropExternal = await makeExternal(model);
        const o = {
          cwd: projectDirOf(slug),
          socket: env!.socket,
          home,
          file,
          ...(named.get(slug) ? {} : { project: slug }),
        };
        let composeMade: Made;
        let rollgateMade: Made;
        try {
          const up = compose(bin!, o, ['up', '-d']);
          assert.equal(up.status, 0, `docker compose up of ${slug}:\n${up.out}`);
          composeMade = await snapshot(docker, 'com.docker.compose.project', project, {
            service: 'com.docker.compose.service',
            network: 'com.docker.compose.network',
            volume: 'com.docker.compose.volume',
          });
          const down = compose(bin!, o, ['down', '--volumes', '--remove-orphans', '--timeout', '2']);
          assert.equal(down.status, 0, `docker compose down of ${slug}:\n${down.out}`);

          const r = await reconcileOnce(desired, {
            docker: new DockerApplier(engine, { paths: { ...hostPaths(stateDir), home } }),
            stateDir,
            log: silentLog,
          });
          assert.equal(r.outcome?.status, 'applied', `rollgate apply of ${slug}: ${r.outcome?.error}`);
          rollgateMade = await snapshot(docker, LABEL.app, slug, {
            service: LABEL.service,
            network: LABEL.network,
            volume: LABEL.volume,
          });
        } finally {
          compose(bin!, o, ['down', '--volumes', '--remove-orphans', '--timeout', '2']);
          await removeRollgateApp(slug);
          await dropExternal();
          for (const d of devices) rmSync(d, { force: true });
        }

        const ctx: Context = {
          project,
          app: slug,
          projectDir: projectDirOf(slug),
          repoDir: repoOf(slug),
          rollgateProject: join(hostPaths(stateDir).data, slug, 'apps', slug),
          rollgateRepo: join(hostPaths(stateDir).data, slug),
          filesRoot: join(hostPaths(stateDir).files, slug),
        };
        const names = new Map<string, string>();
        for (const m of [composeMade, rollgateMade])
          for (const [svc, c] of m.containers) {
            names.set(String(c['Name']).replace(/^\//, ''), svc);
            names.set(String(c['Id']), svc);
          }
        const serviceOf = (n: string) => names.get(n);

        const diffs: Diff[] = [];
        assert.deepEqual(
          [...rollgateMade.containers.keys()].sort(),
          [...composeMade.containers.keys()].sort(),
          'the same services get containers',
        );
        for (const [svc, c] of composeMade.containers) {
          const r = rollgateMade.containers.get(svc)!;
          stats.containers++;
          compare(
            slug,
            `service ${svc}`,
            svc,
            flattenContainer(c, 'compose', ctx, r, serviceOf),
            flattenContainer(r, 'rollgate', ctx, c, serviceOf),
            diffs,
          );
        }
        for (const kind of ['networks', 'volumes'] as const) {
          assert.deepEqual(
            [...rollgateMade[kind].keys()].sort(),
            [...composeMade[kind].keys()].sort(),
            `the same ${kind}`,
          );
          for (const [k, c] of composeMade[kind]) {
            stats[kind]++;
            const one = kind === 'networks' ? 'network' : 'volume';
            compare(
              slug,
              `${one} ${k}`,
              undefined,
              flattenObject(c, one),
              flattenObject(rollgateMade[kind].get(k)!, one),
              diffs,
            );
          }
        }
        stats.files++;
        assert.deepEqual(
          diffs.map((d) => `${d.what}: ${d.path}\n      compose:  ${d.compose}\n      rollgate: ${d.rollgate}`),
          [],
          `differences in ${slug} that ALLOWED does not explain`,
        );
      });
    }
  },
);
