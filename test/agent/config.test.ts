// The agent's configuration on its own: file, environment and flags, where each value came from,
// and the errors of each, naming the file:line:column, the variable or the flag.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadAgentConfig, SETTINGS } from '../../src/agent/config.js';
import { CLI, rollgate } from '../helpers/cli.js';
import { projectRoot } from '../helpers/fixtures.js';
import { tempDirs } from '../helpers/temp-dirs.js';

const dir = tempDirs('rollgate-agent-parts-');

describe('agent configuration', () => {
  const load = (
    file: string | undefined = '/dev/null',
    env: NodeJS.ProcessEnv = {},
    flags: Record<string, unknown> = {},
    requireAll = true,
  ) => loadAgentConfig({ ...(file ? { file } : {}), env, flags, requireAll });

  test('file, then environment, then flags; defaults fill the rest; the source of each value is known', async () => {
    const d = dir();
    const f = join(d, 'config.yaml');
    writeFileSync(
      f,
      'repo:\n  url: https://git.example.com/fleet.git\n  ref: stable\ngateway:\n  id: gw-file\n  labels: { ' +
        'site: berlin }\nschedule:\n  interval: 5m\n  jitter: 1m\n',
    );
    const { config, sources } = await load(
      f,
      { ROLLGATE_INTERVAL: '2m', ROLLGATE_GATEWAY_LABELS: 'site=paris,role=gateway' },
      { id: 'gw-flag' },
    );
    assert.equal(config.repo.url, 'https://git.example.com/fleet.git');
    assert.equal(config.repo.ref, 'stable');
    assert.equal(config.gateway.id, 'gw-flag');
    assert.deepEqual(config.gateway.labels, { site: 'paris', role: 'gateway' });
    assert.equal(config.schedule.interval, '2m');
    assert.equal(config.schedule.jitter, '1m');
    assert.equal(config.stateDir, '/var/lib/rollgate');
    assert.equal(config.metrics.listen, '127.0.0.1:9475');
    assert.deepEqual(
      [sources['gateway.id'], sources['schedule.interval'], sources['schedule.jitter'], sources['stateDir']],
      ['flag', 'env', 'file', 'default'],
    );
  });

  test("systemd's STATE_DIRECTORY is the state directory when nothing else sets it", async () => {
    const { config, sources } = await load(
      '/dev/null',
      { STATE_DIRECTORY: '/var/lib/rollgate-unit' },
      { repo: '/srv/fleet', id: 'gw' },
    );
    assert.equal(config.stateDir, '/var/lib/rollgate-unit');
    assert.equal(sources['stateDir'], 'systemd');
  });

  test('a bad file is rejected with file:line:column and what was expected', async () => {
    const d = dir();
    const f = join(d, 'config.yaml');
    writeFileSync(
      f,
      'repo:\n  url: /srv/fleet\ngateway:\n  id: gw\nschedule:\n  interval: every five minutes\n  jiter: ' +
        '10s\nmetrics:\n  listen: 0.0.0.0:9475\n',
    );
    await assert.rejects(load(f), (err: Error) => {
      assert.match(
        err.message,
        /config\.yaml:6:\d+: expected a duration like 500ms, 30s, 5m or 1m30s, got string "every five minutes"/,
      );
      assert.match(
        err.message,
        new RegExp(
          String.raw`config\.yaml:7:\d+: unsupported key "jiter" \(expected one of: interval, cron, jit` +
            String.raw`ter, watch, driftCheck, retry\)`,
        ),
      );
      assert.match(
        err.message,
        new RegExp(
          String.raw`config\.yaml:9:\d+: expected "off", or a loopback address with a port such as 127` +
            String.raw`\.0\.0\.1:9475, got string "0\.0\.0\.0:9475"`,
        ),
      );
      return true;
    });
  });

  test('bad environment values and flags name the variable or flag; required keys say where to set them', async () => {
    await assert.rejects(
      load(undefined, { ROLLGATE_INTERVAL: 'soon' }, { repo: '/srv', id: 'gw' }),
      /ROLLGATE_INTERVAL: expected a duration like 30s, 5m or 1h, got "soon"/,
    );
    await assert.rejects(
      load(undefined, { ROLLGATE_WATCH: 'maybe' }, { repo: '/srv', id: 'gw' }),
      /ROLLGATE_WATCH=maybe: expected true or false/,
    );
    await assert.rejects(
      load(undefined, {}, { repo: '/srv', id: 'gw', concurrency: 'lots' }),
      /--concurrency: expected a whole number, got "lots"/,
    );
    await assert.rejects(
      load(undefined, {}, { repo: '/srv', id: 'gw', cron: '61 * * * *' }),
      /schedule\.cron \(flag\): "61 \* \* \* \*" is not a cron expression/,
    );
    await assert.rejects(
      load(undefined, {}, { repo: '/srv', id: 'gw', cron: '0 0 31 2 *' }),
      /schedule\.cron \(flag\): "0 0 31 2 \*" is not a cron expression: it matches no date to come/,
    );
    await assert.rejects(
      load(undefined, {}, { repo: '/srv', id: 'gw', cron: '* * * *' }),
      /"\* \* \* \*" is not a cron expression: .*five or six/,
    );
    await assert.rejects(
      load(undefined, {}, {}),
      new RegExp(
        String.raw`the agent needs repo\.url and gateway\.id; set repo\.url in \S+, ROLLGATE_REPO or --` +
          String.raw`repo; and gateway\.id in .*ROLLGATE_GATEWAY_ID or --id`,
      ),
    );
    await assert.rejects(
      load('/nonexistent/config.yaml'),
      /cannot read the configuration file \/nonexistent\/config\.yaml: it does not exist/,
    );
    // Commands that only need the state directory do not need the rest.
    assert.equal((await load(undefined, { ROLLGATE_STATE_DIR: '/tmp/x' }, {}, false)).config.stateDir, '/tmp/x');
  });

  test(
    'per-state interface timeouts come from the file, the environment or flags; a name outside the protocol ' +
      'is refused at its line',
    async () => {
      const d = dir();
      const f = join(d, 'config.yaml');
      writeFileSync(
        f,
        'repo: { url: /srv/fleet }\ngateway: { id: gw }\ninterfaces:\n  stateTimeouts:\n    Download: 30m\n    ' +
          'ArtifactInstal: 2h\n',
      );
      await assert.rejects(
        load(f),
        new RegExp(
          String.raw`config\.yaml:6:5: unsupported key "ArtifactInstal" \(expected one of: Download, Down` +
            String.raw`loadWithFileSizes, ArtifactInstall,`,
        ),
      );
      writeFileSync(
        f,
        'repo: { url: /srv/fleet }\ngateway: { id: gw }\ninterfaces:\n  stateTimeouts:\n    Download: 30m\n',
      );
      assert.deepEqual((await load(f)).config.interfaces.stateTimeouts, { Download: '30m' });
      assert.deepEqual(
        (await load(f, { ROLLGATE_INTERFACE_STATE_TIMEOUTS: 'ArtifactInstall=2h,Provides=10s' })).config.interfaces
          .stateTimeouts,
        { ArtifactInstall: '2h', Provides: '10s' },
      );
      assert.deepEqual((await load(f, {}, { interfaceStateTimeout: ['Cleanup=1m'] })).config.interfaces.stateTimeouts, {
        Cleanup: '1m',
      });
      await assert.rejects(
        load(f, { ROLLGATE_INTERFACE_STATE_TIMEOUTS: 'Install=2h' }),
        /ROLLGATE_INTERFACE_STATE_TIMEOUTS: expected State=duration pairs .* got \{"Install":"2h"\}/,
      );
      await assert.rejects(
        load(f, {}, { interfaceStateTimeout: ['Download=soon'] }),
        /--interface-state-timeout: expected State=duration pairs .* got \{"Download":"soon"\}/,
      );
      assert.deepEqual((await load('/dev/null', {}, { repo: '/srv', id: 'gw' })).config.interfaces.stateTimeouts, {});
    },
  );

  test(
    'every setting is documented, has an environment variable and a flag, and appears in --help and the ' + 'README',
    async () => {
      const help = spawnSync(process.execPath, [CLI, 'agent', '--help'], { encoding: 'utf8' }).stdout;
      const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
      assert.ok(SETTINGS.length >= 20);
      for (const s of SETTINGS) {
        assert.ok(s.description.length > 20, `${s.key} is documented`);
        assert.match(s.env, /^(ROLLGATE_[A-Z_]+|DOCKER_HOST)$/);
        assert.ok(help.includes(s.flag.split(' ')[0]!), `--help lists ${s.flag}`);
        assert.ok(help.includes(s.env), `--help names ${s.env}`);
        assert.ok(readme.includes(`\`${s.key}\``), `the README documents ${s.key}`);
      }
    },
  );

  test('--print-config shows the effective configuration and where each value came from', async () => {
    const r = await rollgate(
      'agent',
      '--config',
      '/dev/null',
      '--repo',
      '/srv/fleet',
      '--id',
      'gw-7',
      '--interval',
      '30s',
      '--print-config',
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /url: \/srv\/fleet # --repo\n/);
    assert.match(r.out, /interval: 30s # --interval\n/);
    assert.match(r.out, /jitter: 10s # default\n/);
  });
});
