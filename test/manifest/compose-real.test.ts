// Real Compose files from public projects (test/fixtures/compose-real*/SOURCES.md), each put
// unchanged into a one-app fleet repo: every one validates and plans, or is refused with one
// clear sentence per thing a gateway cannot do. They are read from git objects as the agent
// reads them, and from the working tree as `rollgate diff` reads it, with the same result.

import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse } from 'yaml';
import { observedFromDesired, plan } from '../../src/plan/index.js';
import { DirectorySource, GitObjectSource, validateFleetRepo, type Problem } from '../../src/manifest/index.js';
import { emptyObservedState, type DesiredState } from '../../src/model/index.js';
import { cleanup, projectRoot, run, tempDir } from '../helpers/fixtures.js';

/** Two sets, from different repositories; the second is also compared with Compose on an Engine. */
const SETS = ['compose-real', 'compose-real2'].map((d) => join(projectRoot, 'test/fixtures', d));

/** What a gateway cannot do, one sentence per refused service or key; everything else must load. */
const REFUSED: Record<string, RegExp[]> = {
  'ac-flask-redis': [/service "web" is built from source/],
  'ac-nginx-flask-mysql': [/service "backend" is built from source/, /service "proxy" is built from source/],
  'ac-nginx-golang': [/service "backend" is built from source/],
  'ac-react-express-mongodb': [/service "backend" is built from source/, /service "frontend" is built from source/],
  'ac-sparkjava-mysql': [/service "backend" is built from source/],
  'ac-spring-postgres': [/service "backend" is built from source/],
  'ac-traefik-golang': [/service "backend" is built from source/],
  'mig-stack': [
    /service "forwarder" is built/,
    /service "grafana" is built/,
    /service "influxdb" is built/,
    /service "mqtt" is built/,
  ],
  'loki-production': [/deploy\.replicas: 3 is not supported: a gateway runs exactly one container per service/],
  // Its README says to set DOCKER_SOCKET_PATH; without it the mount is ":/var/run/docker.sock", as in Compose.
  'edgex-portainer': [/volumes: expected .* got ":\/var\/run\/docker\.sock"/],
  // Its mounts of ../../documentation leave this one-app repo (in Ditto's own repo they stay inside it).
  ditto: [
    /"\.\.\/\.\.\/documentation\/src\/main\/resources\/openapi".* leaves the repository/,
    /"\.\.\/\.\.\/documentation\/src\/main\/resources\/images".* leaves the repository/,
    /"\.\.\/\.\.\/documentation\/src\/main\/resources\/images".* leaves the repository/,
    /"\.\.\/\.\.\/documentation\/src\/main\/resources\/wot".* leaves the repository/,
  ],
};

/** Values the projects tell their users to set, given as the fleet target's variables. */
const VARIABLES: Record<string, Record<string, string>> = {
  'edgex-portainer': { DOCKER_SOCKET_PATH: '/var/run/docker.sock' },
};

/** `set/slug` of every fixture. */
const slugs = SETS.flatMap((set) =>
  readdirSync(set)
    .filter((d) => d !== 'SOURCES.md')
    .sort()
    .map((d) => join(set, d)),
);
const name = (fixture: string) => fixture.split('/').pop()!;
const composeFile = (fixture: string) => readdirSync(fixture).find((f) => /(compose|stack).*\.ya?ml$/.test(f))!;

function fleetRepo(root: string, fixture: string, variables: Record<string, string> = {}): string {
  const dir = join(root, name(fixture));
  cpSync(fixture, join(dir, 'app'), { recursive: true });
  const vars = Object.entries(variables)
    .map(([k, v]) => `      ${k}: "${v}"\n`)
    .join('');
  writeFileSync(
    join(dir, 'rollgate.yaml'),
    `apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  s:\n    apps:\n      app: ` +
      `app/${composeFile(fixture)}\ntargets:\n  - name: all\n    match: { any: true }\n    system: ` +
      `s\n${vars ? `    variables:\n${vars}` : ''}`,
  );
  return dir;
}

function commitAll(dir: string): string {
  run('git', ['init', '-q', '-b', 'main'], dir);
  run('git', ['add', '-A'], dir);
  run('git', ['commit', '-q', '-m', 'real compose file'], dir);
  return run('git', ['rev-parse', 'HEAD'], dir);
}

const shown = (ps: Problem[]) => ps.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n');

describe('real Compose files, unchanged', () => {
  const root = tempDir('rollgate-real-');
  after(() => cleanup(root));

  test('at least 30 of them in each set, each with its source recorded', () => {
    for (const set of SETS) {
      const sources = readFileSync(join(set, 'SOURCES.md'), 'utf8');
      const mine = slugs.filter((s) => s.startsWith(set + '/'));
      assert.ok(mine.length >= 30, `${mine.length} fixtures in ${set}`);
      for (const s of mine)
        assert.match(
          sources,
          new RegExp(`\\| ${name(s)} \\| https://github\\.com/[^ ]+ \\| [0-9a-f]{40} \\|`),
          `${s} has its repository and commit in SOURCES.md`,
        );
    }
  });

  for (const fixture of slugs) {
    const slug = name(fixture);
    test(fixture.split('/').slice(-2).join('/'), async () => {
      const dir = fleetRepo(root, fixture, VARIABLES[slug]);
      const fromTree = await validateFleetRepo(new DirectorySource(dir));
      const refused = REFUSED[slug];
      if (refused && !VARIABLES[slug]) {
        // Every problem is one of the expected sentences, each reported as often as it is listed.
        assert.equal(fromTree.problems.length, refused.length, shown(fromTree.problems));
        for (const re of refused)
          assert.equal(
            fromTree.problems.filter((p) => re.test(p.message)).length,
            refused.filter((r) => r.source === re.source).length,
            `${re} in:\n${shown(fromTree.problems)}`,
          );
        for (const p of fromTree.problems)
          assert.ok(p.line !== undefined && p.file.endsWith(composeFile(fixture)), 'placed at file:line');
        return;
      }
      assert.deepEqual(fromTree.problems, [], shown(fromTree.problems));
      const desired = fromTree.targets[0]!.desired!;
      const app = desired.apps[0]!;
      const raw = parse(readFileSync(join(fixture, composeFile(fixture)), 'utf8'), { merge: true }) as {
        services: Record<string, { image?: string; profiles?: string[] }>;
      };
      const expected = Object.entries(raw.services)
        .filter(([, s]) => !s.profiles)
        .map(([n]) => n)
        .sort();
      assert.deepEqual(
        app.services.map((s) => s.name),
        expected,
        'every service, none invented',
      );

      // Read from git objects (as the agent does): the same desired state.
      const commit = commitAll(dir);
      const fromGit = await validateFleetRepo(new GitObjectSource(join(dir, '.git'), commit));
      assert.deepEqual(fromGit.problems, []);
      const strip = (d: DesiredState) => ({ ...d, source: {} });
      assert.deepEqual(strip(fromGit.targets[0]!.desired!), strip(desired));

      // It plans: pulls, repo files written before anything starts, every service created and started.
      const p = plan(desired, emptyObservedState());
      const steps = p.stages.flatMap((s) => s.steps);
      for (const s of app.services)
        assert.ok(
          steps.some((x) => x.kind === 'start' && x.target.kind === 'service' && x.target.service === s.name),
          `${s.name} is started`,
        );
      for (const t of app.files ?? [])
        assert.ok(
          p.prepare.some((x) => x.kind === 'write-files' && x.target.kind === 'files' && x.target.hash === t.hash),
          'repo files are written in prepare',
        );
      // A gateway that runs it has nothing to change.
      assert.equal(plan(desired, observedFromDesired(desired, 'applied')).changes.length, 0);
    });
  }
});
