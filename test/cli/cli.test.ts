// `rollgate diff` and `rollgate validate` end to end: the built command, as a separate process,
// against fleet-repo-example served by a real git http-backend.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Plan } from '../../src/model/index.js';
import { ExampleCopy, COMPOSE, MANIFEST } from '../helpers/example-copy.js';
import { cleanup, exampleBareRepo, projectRoot, run, tempDir } from '../helpers/fixtures.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { rollgate } from '../helpers/cli.js';
import { freePort } from '../helpers/hub-lab.js';

describe('rollgate diff against a real git server', () => {
  let root: string;
  let server: GitServer;
  let commits: string[];
  let url: string;

  before(async () => {
    root = tempDir();
    ({ commits } = exampleBareRepo(root));
    server = await startGitServer(root);
    url = server.url('fleet.git');
  });
  after(async () => {
    await server.close();
    cleanup(root);
  });

  test('v2 against v1: the rollout story, exit 2, human output', async () => {
    const r = await rollgate('diff', '--repo', url, '--ref', 'main', '--against', 'commit:main~1', '--id', 'gw-0001');
    assert.equal(r.code, 2, r.err);
    assert.ok(r.out.includes(`desired: commit ${commits[commits.length - 1]!.slice(0, 12)}`), r.out);
    assert.match(r.out, /~ component G13 \(gateway\) {2}gateway-v1 → gateway-v2/);
    assert.match(r.out, /~ service edge\/collector .*collector:1\.0 → .*collector:2\.0/);
    assert.match(r.out, /Rollback order if anything fails: group 30 → group 20 → group 10/);
    assert.match(r.out, /Plan: 0 to add, 5 to change, 0 to remove, 0 to repair; 1 unchanged \(edge\/broker\)/);
    // the gateway group is listed before the RTOS group
    assert.ok(r.out.indexOf('Order group 10') < r.out.indexOf('Order group 20'));
  });

  test('JSON output is the Plan, and the same commit against itself has no changes (exit 0)', async () => {
    const j = await rollgate(
      'diff',
      '--repo',
      url,
      '--ref',
      'main',
      '--against',
      'commit:main~1',
      '--id',
      'gw-0042',
      '--label',
      'role=gateway',
      '--output',
      'json',
    );
    assert.equal(j.code, 2, j.err);
    const plan = JSON.parse(j.out) as Plan;
    assert.equal(plan.schema, 'rollgate.plan/v1');
    assert.equal(plan.desired.source.commit, commits[1]);
    assert.equal(plan.desired.target, 'gateways');
    assert.deepEqual(
      plan.stages.map((s) => s.name),
      ['group 10', 'group 20', 'group 30'],
    );
    const same = await rollgate(
      'diff',
      '--repo',
      url,
      '--ref',
      'main',
      '--against',
      `commit:${commits[1]}`,
      '--id',
      'gw-0001',
    );
    assert.equal(same.code, 0, same.err);
    assert.match(same.out, /No changes\./);
  });

  test('against a saved observation file', async () => {
    const j = await rollgate('diff', '--repo', url, '--id', 'gw-0001', '--output', 'json', '--against', 'fresh');
    const plan = JSON.parse(j.out) as Plan;
    assert.equal(plan.against, 'fresh gateway');
    const obsFile = join(root, 'observed.json');
    writeFileSync(
      obsFile,
      JSON.stringify({
        schema: 'rollgate.observed/v1',
        origin: 'x',
        components: [{ key: 'G13', type: 'gateway', version: 'gateway-v2' }],
        containers: [],
        networks: [],
        volumes: [],
        images: [],
      }),
    );
    const r = await rollgate(
      'diff',
      '--repo',
      url,
      '--id',
      'gw-0001',
      '--output',
      'json',
      '--against',
      `file:${obsFile}`,
    );
    const p2 = JSON.parse(r.out) as Plan;
    assert.deepEqual(p2.unchanged.components, ['G13']);
    writeFileSync(obsFile, '{"not": "an observation"}');
    const bad = await rollgate('diff', '--repo', url, '--id', 'gw-0001', '--against', `file:${obsFile}`);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /is not a rollgate observation/);
  });

  test('errors exit 1 with a clear message: server down, unknown gateway, wrong token', async () => {
    const down = await rollgate('diff', '--repo', 'http://127.0.0.1:9/fleet.git', '--id', 'gw-0001');
    assert.equal(down.code, 1);
    assert.match(down.err, /cannot reach http:\/\/127\.0\.0\.1:9\/fleet\.git/);
    const nobody = await rollgate('diff', '--repo', url, '--id', 'gw-9999');
    assert.equal(nobody.code, 1);
    assert.match(nobody.err, /no target matches gateway "gw-9999"/);
    server.token = 'right';
    try {
      const tok = join(root, 'tok');
      writeFileSync(tok, 'wrong-secret');
      const r = await rollgate('diff', '--repo', url, '--id', 'gw-0001', '--auth-token-file', tok);
      assert.equal(r.code, 1);
      assert.match(r.err, new RegExp(`refused the token in ${tok} \\(HTTP 401\\): check that it is valid`));
      assert.ok(!r.err.includes('wrong-secret'), 'credentials never appear in output');
    } finally {
      delete server.token;
    }
  });

  test('a server that asks for credentials when none were given says how to give them', async () => {
    server.token = 'right';
    try {
      const r = await rollgate('diff', '--repo', url, '--id', 'gw-0001');
      assert.equal(r.code, 1);
      assert.match(r.err, /needs credentials \(HTTP 401\) and none were given: put a token in a file and give it /);
      assert.match(r.err, /--auth-token-file \(repo\.tokenFile in the agent's configuration\)/);
      assert.match(r.err, /"user:password" with --auth-basic-file \(repo\.basicAuthFile\)/);
      assert.doesNotMatch(r.err, /check the credentials file/, 'there is none');
    } finally {
      delete server.token;
    }
  });

  test('a host that does not resolve is named, with what to check; so is a port where nothing listens', async () => {
    // .invalid never resolves (RFC 2606); without any DNS server the lookup fails too, with EAI_AGAIN.
    const r = await rollgate('diff', '--repo', 'https://fleet.nonexistent.invalid/fleet.git', '--id', 'gw-0001');
    assert.equal(r.code, 1);
    assert.match(r.err, /cannot reach https:\/\/fleet\.nonexistent\.invalid\/fleet\.git\/git-upload-pack: /);
    assert.match(
      r.err,
      new RegExp(
        'the host name fleet\\.nonexistent\\.invalid (does not resolve \\(ENOTFOUND\\): check the host in the URL, ' +
          "and this machine's DNS|could not be resolved: no DNS server answered)",
      ),
    );
    const port = await freePort();
    const down = await rollgate('diff', '--repo', `http://127.0.0.1:${port}/fleet.git`, '--id', 'gw-0001');
    assert.equal(down.code, 1);
    assert.match(down.err, new RegExp(`nothing listens on 127\\.0\\.0\\.1 port ${port} \\(ECONNREFUSED\\)`));
  });
});

describe('rollgate diff and validate on a working tree', () => {
  test('a local working tree with an uncommitted change shows it', async () => {
    const copy = new ExampleCopy().edit(COMPOSE, 'broker:1.0', 'broker:1.1');
    const r = await rollgate(
      'diff',
      '--repo',
      copy.dir,
      '--id',
      'gw-0042',
      '--label',
      'role=gateway',
      '--output',
      'json',
    );
    assert.equal(r.code, 2);
    const plan = JSON.parse(r.out) as Plan;
    assert.ok(plan.prepare.some((s) => s.image === '127.0.0.1:5000/rollgate-example/broker:1.1'));
    assert.equal(plan.desired.source.path, copy.dir);
  });

  test('validate: exit 0 on the example, exit 1 with every problem on a broken copy', async () => {
    const ok = await rollgate('validate', '--repo', join(projectRoot, 'fleet-repo-example'));
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /OK: 2 targets valid/);
    const broken = new ExampleCopy().edit(
      COMPOSE,
      '    init: true\n    restart: unless-stopped\n    stop_grace_period',
      '    init: true\n    secrets: [x]\n    restart: unless-stopped\n    stop_grace_period',
    );
    // Every problem of every service in one run: the secret, and a refused key of another service.
    broken.edit(COMPOSE, '    env_file: collector.env', '    env_file: collector.env\n    gpus: all');
    const bad = await rollgate('validate', '--repo', broken.dir, '--output', 'json');
    assert.equal(bad.code, 1);
    const report = JSON.parse(bad.out) as { ok: boolean; problems: { file: string; line: number; message: string }[] };
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.problems.map((p) => [p.file, p.line, p.message.split(' (')[0]]).sort(),
      [
        ['systems/gateway/apps/edge/compose.yaml', 10, 'secret "x" is not declared under the top-level "secrets" key'],
        [
          'systems/gateway/apps/edge/compose.yaml',
          24,
          '"gpus" needs a GPU device request that rollgate does not make yet; use "devices" for a device node',
        ],
      ].sort(),
    );
  });

  test('--help answers what the command does, its inputs and exit codes', async () => {
    const h = await rollgate('diff', '--help');
    assert.equal(h.code, 0);
    assert.match(h.out, /Exit status: 0 no changes, 2 changes, 1 error/);
    assert.match(h.out, /--against <what>/);
    assert.match(h.out, /The stages are listed in\s+the order they would run, with the order and why/);
    const f = await rollgate('forget', '--help');
    assert.equal(f.code, 0);
    assert.match(f.out, /Use forget when the fault was not the\s+commit's/);
    assert.match(f.out, /--reason <why>/);
    assert.match(f.out, /Exit status: 0 cleared, 1 error/);
  });
});

describe('rollgate diff of a revert on the example: the order it chose, and why', () => {
  // fleet-repo-example as shipped (gateway and RTOS at v2), then a commit that puts its manifest
  // back to v1, then `git revert` of that commit: v2 again.
  const copy = new ExampleCopy();
  const git = (...args: string[]) => run('git', ['-C', copy.dir, ...args]);
  const diff = (...extra: string[]) =>
    rollgate('diff', '--repo', copy.dir, '--ref', 'main', '--against', 'commit:main~1', '--id', 'gw-0001', ...extra);
  before(() => {
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-q', '-m', 'system v2, as shipped');
    copy
      .edit(MANIFEST, 'version: system-core-v2', 'version: system-core-v1')
      .edit(MANIFEST, 'artifacts/gateway-v2.mender', 'artifacts/gateway-v1.mender')
      .edit(MANIFEST, 'artifacts/rtos-v2.mender', 'artifacts/rtos-v1.mender');
    git('commit', '-q', '-a', '-m', 'back to system v1');
  });
  after(() => cleanup(copy.dir));

  test('the manifest back to v1: the RTOS devices first, then the gateway, and the plan says why', async () => {
    const r = await diff();
    assert.equal(r.code, 2, r.err);
    assert.match(
      r.out,
      new RegExp(
        'Order: reversed: rtos \\(group 20\\) → gateway \\(group 10\\), the declared order backwards as a ' +
          'downgrade runs, since in the declared order the plan would pass through the forbidden combination ' +
          '"new-rtos-on-old-gateway" \\(G13=gateway-v1, R456=rtos-v2, R998=rtos-v2\\)',
      ),
    );
    assert.ok(r.out.indexOf('Order group 20') < r.out.indexOf('Order group 10'), r.out);
    assert.match(r.out, /~ component G13 \(gateway\) {2}gateway-v2 → gateway-v1/);
    assert.match(r.out, /✓ commit R456, R998, G13 \(in the order of the stages\)/);
    assert.match(r.out, /Rollback order if anything fails: group 10 → group 20/);
    const j = await diff('--output', 'json');
    assert.equal(j.code, 2, j.err);
    const plan = JSON.parse(j.out) as Plan;
    assert.deepEqual(
      plan.stages.map((s) => s.name),
      ['group 20', 'group 10'],
    );
    assert.equal(plan.order?.chosen, 'reversed');
  });

  test('git revert of it (v2 again) runs in the declared order, and says so', async () => {
    git('revert', '--no-edit', 'HEAD');
    try {
      const r = await diff();
      assert.equal(r.code, 2, r.err);
      assert.match(
        r.out,
        /Order: as declared: gateway \(group 10\) → rtos \(group 20\); every state on the way is accepted by the/,
      );
      assert.ok(r.out.indexOf('Order group 10') < r.out.indexOf('Order group 20'), r.out);
      assert.match(r.out, /✓ commit G13, R456, R998 \(ascending order groups\)/);
    } finally {
      git('reset', '-q', '--hard', 'HEAD~1');
    }
  });

  test("a component's reboot is shown as what it is: a reboot only if its interface asks for one", async () => {
    // The example's interfaces answer NeedsArtifactReboot: No. The protocol asks it after
    // ArtifactInstall, so no plan can know the answer; diff says so instead of promising a reboot.
    const r = await diff();
    assert.doesNotMatch(r.out, /\[install → reboot\]/);
    assert.match(r.out, /~ component R456 \(rtos\) {2}rtos-v2 → rtos-v1 {2}\[install → reboot if its interface asks\]/);
  });
});

describe("a gateway's variables: --var-file and --var, as the agent's gateway.variablesFile", () => {
  test(
    'the file, then --var, over the target and the .env; a required one missing is an error at its ' + 'place',
    async () => {
      const copy = new ExampleCopy().edit(
        COMPOSE,
        'BROKER_URL: http://broker:18083/',
        'BROKER_URL: ${BROKER:?set BROKER for this gateway}',
      );
      const dir = tempDir('rollgate-vars-');
      try {
        const missing = await rollgate('validate', '--repo', copy.dir);
        assert.equal(missing.code, 1);
        assert.match(
          missing.err,
          /compose\.yaml:24:\d+: required variable BROKER is not set: set BROKER for this gateway/,
        );
        const file = join(dir, 'gw.env');
        writeFileSync(file, '# this gateway\nBROKER=http://10.0.0.5:1883/\nSITE=berlin\n');
        const out = await rollgate(
          'diff',
          '--repo',
          copy.dir,
          '--id',
          'gw-0042',
          '--label',
          'role=gateway',
          '--var-file',
          file,
          '--var',
          'SITE=hamburg',
          '--output',
          'json',
        );
        assert.equal(out.code, 2, out.err);
        const plan = JSON.parse(out.out) as Plan;
        assert.ok(plan.changes.length > 0);
        const { readVariables } = await import('../../src/gateway/gateway.js');
        assert.deepEqual(
          await readVariables([file], ['SITE=hamburg']),
          { BROKER: 'http://10.0.0.5:1883/', SITE: 'hamburg' },
          '--var wins over the file',
        );
        const desired = await copy.load(undefined, { variables: { BROKER: 'x' } });
        assert.equal(
          desired.apps[0]!.services.find((s) => s.name === 'collector')!.config.environment['SITE'],
          'unknown',
          "the example's default when nothing sets it",
        );
        const bad = await rollgate('validate', '--repo', copy.dir, '--var', 'not a pair');
        assert.equal(bad.code, 1);
        assert.match(bad.err, /--var takes KEY=value/);
        const gone = await rollgate('validate', '--repo', copy.dir, '--var-file', join(dir, 'nope.env'));
        assert.match(gone.err, /cannot read the variables file .*nope\.env: it does not exist/);
      } finally {
        cleanup(dir);
      }
    },
  );
});
