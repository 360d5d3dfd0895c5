// The whole run, and every way out: distinct secret values are planted in every secret file a
// gateway has (the variables file, a gateway file mounted as a Compose secret, the registry
// credentials file, the git token file, the hub token file); a real agent, on the private Engine
// and registry, following a real git server that wants the token and reporting to a real hub
// process with a webhook receiver, goes through a commit that does not validate because of a
// variable, a commit that applies, and a commit that rolls back because a hook printed the
// secrets it was given (and a hook that prints one where the agent cuts what it keeps). Then
// every output is searched for the planted values, whole, encoded or in pieces: the agent's log,
// `rollgate status` and `history` (human and JSON), the state and outbox files, the hub's API,
// its page, its own log and the webhook bodies. The secrets were really used: the container has
// them in its environment and its secret files.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { LABEL } from '../../src/apply/index.js';
import type { GatewayDetail } from '../../src/hub/index.js';
import { AgentProcess, lastHistory } from '../helpers/agent-process.js';
import { rollgate } from '../helpers/cli.js';
import { exec } from '../helpers/container-io.js';
import { removeApp, requireDocker } from '../helpers/docker-tests.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { WebhookReceiver } from '../helpers/hub.js';
import { freePort, HubProcess } from '../helpers/hub-lab.js';

const env = requireDocker();

const GW = 'gw-secrets';
/** Each planted value, by the file it is planted in. */
const PLANTED = {
  dbPassword: 'Plant-DbPass-7Qz4',
  apiKey: 'Plant-ApiKey-3Xw8',
  media: 'Plant-Media-5Kv1',
  hostSecret: 'Plant-HostSecret-8Rt2',
  registryPassword: 'Plant-RegPass-2Mn6',
  gitToken: 'Plant-GitToken-6Hd9',
};

describe(
  'no secret of the gateway leaves the agent: a whole run, every output searched',
  { skip: env ? false : 'no Docker Engine (see the line above)' },
  () => {
    const root = tempDir('rollgate-docker-secrets-');
    const work = join(root, 'fleet');
    const srv = join(root, 'srv');
    const stateDir = join(root, 'state');
    const hubData = join(root, 'hub');
    const files = {
      variables: join(root, 'gateway.env'),
      hostSecret: join(root, 'api-cert.pem'),
      registries: join(root, 'registries.yaml'),
      gitToken: join(root, 'git-token'),
      hubToken: join(root, 'hub-token'),
      hubConfig: join(root, 'hub.yaml'),
    };
    const hook = new WebhookReceiver();
    const commits: string[] = [];
    let hubToken = '';
    let readerToken = '';
    let hubUrl = '';
    let server: GitServer;
    let hub: HubProcess | undefined;
    let agent: AgentProcess;
    let docker: Docker;
    let image = '';
    /** Every output gathered on the way, by where it came from. */
    const outputs = new Map<string, string>();
    const keep = (where: string, text: string) => outputs.set(where, (outputs.get(where) ?? '') + text + '\n');
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=Ops', '-c', 'user.email=ops@example.com', ...args], { cwd: work })
        .toString()
        .trim();

    /**
     * The app `keeper` (its own name: other Docker tests run an app `web`), its environment and
     * secret files from the gateway; `extra` lines go under its service `web`.
     */
    function commit(message: string, extra: string[]): string {
      writeFileSync(
        join(work, 'compose.yaml'),
        [
          'services:',
          '  web:',
          `    image: ${image}`,
          '    command: ["httpd", "-f", "-p", "8080", "-h", "/"]',
          '    init: true',
          '    stop_grace_period: 1s',
          '    environment:',
          '      DB_PASSWORD: "${DB_PASSWORD}"',
          '      API_KEY:',
          '    secrets: [db_pass, api_cert]',
          // The old container says what it holds when it stops, and fails (logged, the stop goes on).
          '    pre_stop:',
          '      - command: ["sh", "-c", "echo stopping with $$DB_PASSWORD $$API_KEY; exit 1"]',
          // One long line, of which the agent keeps the last 16 KiB: the cut goes through API_KEY.
          `      - command: ["sh", "-c", "printf key=%s%0${16384 - 12}d $$API_KEY 0; exit 1"]`,
          ...extra,
          'secrets:',
          '  db_pass: { environment: DB_PASSWORD }',
          `  api_cert: { file: ${files.hostSecret} }`,
          '',
        ].join('\n'),
      );
      git('add', '-A');
      git('commit', '-q', '-m', message);
      git('push', '-q', 'origin', 'main');
      const sha = git('rev-parse', 'HEAD');
      commits.push(sha);
      return sha;
    }

    async function api(path: string): Promise<string> {
      const res = await fetch(hubUrl + path, { headers: { authorization: `Bearer ${readerToken}` } });
      const text = await res.text();
      assert.equal(res.status, 200, `${path}: ${text}`);
      keep(`hub ${path}`, text);
      return text;
    }

    function readOutbox(): string[] {
      const dir = join(stateDir, 'outbox');
      const names = readdirSync(dir).filter((f) => f.endsWith('.json'));
      for (const f of names) keep(`outbox ${f}`, readFileSync(join(dir, f), 'utf8'));
      return names;
    }

    before(async () => {
      docker = env!.docker;
      image = await env!.image('secrets/web', '1');
      mkdirSync(srv, { recursive: true });
      mkdirSync(work, { recursive: true });
      execFileSync('git', ['init', '-q', '--bare', '-b', 'main', join(srv, 'fleet.git')]);
      execFileSync('git', ['init', '-q', '-b', 'main', work]);
      git('remote', 'add', 'origin', join(srv, 'fleet.git'));
      writeFileSync(
        join(work, 'rollgate.yaml'),
        'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  sys:\n    apps:\n      keeper: compose.yaml\n' +
          '    health: health.yaml\ntargets:\n  - name: all\n    match: { any: true }\n    system: sys\n',
      );
      writeFileSync(
        join(work, 'health.yaml'),
        'apiVersion: rollgate/v1\nkind: Health\nwindow: 1s\ndeadline: 30s\ndefaults: { interval: 200ms, ' +
          'timeout: 1s, failureThreshold: 3 }\nchecks:\n  - name: web-running\n' +
          '    container: { app: keeper, service: web }\n',
      );
      writeFileSync(
        files.variables,
        `DB_PASSWORD=${PLANTED.dbPassword}\nAPI_KEY=${PLANTED.apiKey}\nMEDIA_SRC=${PLANTED.media}:\n`,
        { mode: 0o600 },
      );
      writeFileSync(files.hostSecret, `${PLANTED.hostSecret}\n`, { mode: 0o600 });
      writeFileSync(
        files.registries,
        `"${env!.registry}": { username: gw-puller, password: ${PLANTED.registryPassword} }\n`,
        { mode: 0o600 },
      );
      writeFileSync(files.gitToken, `${PLANTED.gitToken}\n`, { mode: 0o600 });
      server = await startGitServer(srv);
      server.token = PLANTED.gitToken;
      await hook.start();
      writeFileSync(files.hubConfig, `webhookRetry: 200ms\nwebhooks:\n  - url: ${hook.url}\n`);
      const db = ['--data-dir', hubData];
      const reader = await rollgate('hub', 'token', 'add', '--role', 'reader', 'tests', ...db);
      assert.equal(reader.code, 0, reader.err);
      readerToken = reader.out.trim();
      const gw = await rollgate('hub', 'gateway', 'add', GW, ...db);
      assert.equal(gw.code, 0, gw.err);
      hubToken = gw.out.trim();
      writeFileSync(files.hubToken, `${hubToken}\n`, { mode: 0o600 });
      hubUrl = `http://127.0.0.1:${await freePort()}`;
    });

    after(async () => {
      await agent?.kill();
      await hub?.kill('SIGTERM');
      await server?.close();
      await hook.stop().catch(() => {});
      if (docker) await removeApp(docker, 'keeper', { networks: ['keeper_default'] });
      cleanup(root);
    });

    const startHub = async () => {
      hub = new HubProcess([
        '--data-dir',
        hubData,
        '--listen',
        hubUrl.slice('http://'.length),
        '--config',
        files.hubConfig,
      ]);
      await hub.listening();
    };

    test('a commit that does not validate because of a variable: rejected, naming the variable', async () => {
      const bad = commit('web, with media from the gateway', ['    volumes: ["${MEDIA_SRC}:/media/"]']);
      // The hub is not up yet: the verdict waits in the outbox, where it is read.
      agent = new AgentProcess(stateDir, [
        '--repo',
        server.url('fleet.git'),
        '--auth-token-file',
        files.gitToken,
        '--id',
        GW,
        '--docker-host',
        `unix://${env!.socket}`,
        '--variables-file',
        files.variables,
        '--registry-auth-file',
        files.registries,
        '--report-url',
        hubUrl,
        '--report-token-file',
        files.hubToken,
        '--report-heartbeat',
        '1s',
        '--interval',
        '1s',
        '--jitter',
        '0s',
        '--retry',
        '500ms',
      ]);
      const s = await agent.until('the commit rejected', (x) => lastHistory(x, bad)?.event === 'rejected');
      const end = Date.now() + 20_000;
      while (readOutbox().length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      const waiting = readOutbox().length;
      await startHub();
      assert.ok(waiting > 0, 'the rejection waited in the outbox');
      const reason = s.bad.find((b) => b.commit === bad)!.reason;
      assert.match(reason, /volumes: expected "volume:\/path".*got "\$\{MEDIA_SRC\}:\/media\/"/);
    });

    test('a commit that applies: the container really has the secrets', async () => {
      const good = commit('web, reading its secrets', []);
      await agent.until('web applied', (s) => s.lastGood?.commit === good);
      const [c] = await docker.listContainers({ filters: JSON.stringify({ label: [`${LABEL.app}=keeper`] }) });
      assert.ok(c, 'web runs');
      const info = await docker.getContainer(c.Id).inspect();
      assert.ok(info.Config.Env.includes(`DB_PASSWORD=${PLANTED.dbPassword}`));
      assert.ok(info.Config.Env.includes(`API_KEY=${PLANTED.apiKey}`));
      assert.equal(await exec(docker, c.Id, ['cat', '/run/secrets/db_pass']), PLANTED.dbPassword);
      assert.equal(await exec(docker, c.Id, ['cat', '/run/secrets/api_cert']), PLANTED.hostSecret);
      assert.ok(server.requests.length > 0, 'the git server, which wants the token, was read');
    });

    test('a commit whose hook prints the secrets: rolled back, and the reason says so without them', async () => {
      const loud = commit('web, with a hook that prints what it holds', [
        '    post_start:',
        '      - command: ["sh", "-c", "echo db=$$DB_PASSWORD key=$$API_KEY ' +
          'cert=$$(cat /run/secrets/api_cert); exit 3"]',
      ]);
      const s = await agent.until('rolled back', (x) => lastHistory(x, loud)?.event === 'rolled-back', 90_000);
      await agent.waitForLog(/pre_stop hook 1 of keeper\/web .* exited with code 1/);
      await agent.waitForLog(/pre_stop hook 2 of keeper\/web .* exited with code 1; the stop goes on: …/);
      // Everything the hub was told has arrived, and the webhooks were sent.
      const wait = Date.now() + 30_000;
      for (;;) {
        const detail = JSON.parse(await api(`/api/v1/gateways/${GW}?history=500`)) as GatewayDetail;
        const told = detail.history.filter((e) => e.kind === 'verdict').map((e) => `${e.verdict} ${e.commit}`);
        const sent = hook.received.map((h) => h.body['kind']);
        if (told.includes(`rolled-back ${loud}`) && sent.includes('rolled-back') && sent.includes('rejected')) break;
        assert.ok(Date.now() < wait, `the hub has ${told.join(', ')}; webhooks ${sent.join(', ')}`);
        await new Promise((r) => setTimeout(r, 300));
      }
      const reason = s.bad.find((b) => b.commit === loud)!.reason;
      assert.match(reason, /post_start hook 1 of keeper\/web .* exited with code 3: db=\[redacted\] key=\[redacted\]/);
      assert.match(reason, /cert=\[redacted\]/);
    });

    test('no output holds a planted value', async () => {
      for (const c of commits) {
        await api(`/api/v1/commits/${c}`);
        const page = await fetch(`${hubUrl}/commits/${c}`, { headers: { authorization: `Bearer ${readerToken}` } });
        keep(`hub page /commits/${c}`, await page.text());
      }
      for (const path of ['/api/v1/fleet', '/api/v1/gateways', `/api/v1/gateways/${GW}`, '/api/v1/events?after=0'])
        await api(path);
      for (const path of ['/', `/gateways/${GW}`]) {
        const page = await fetch(hubUrl + path, { headers: { authorization: `Bearer ${readerToken}` } });
        assert.equal(page.status, 200);
        keep(`hub page ${path}`, await page.text());
      }
      for (const args of [['status'], ['history', '--limit', '50']])
        for (const output of ['human', 'json']) {
          const r = await rollgate(...args, '--state-dir', stateDir, '--output', output);
          assert.equal(r.code, 0, r.err);
          keep(`rollgate ${args[0]} --output ${output}`, r.out + r.err);
        }
      const sync = await rollgate('sync', '--state-dir', stateDir, '--output', 'json');
      keep('rollgate sync', sync.out + sync.err);
      keep('agent-state.json', readFileSync(join(stateDir, 'agent-state.json'), 'utf8'));
      readOutbox();
      await agent.stop();
      keep('agent log', agent.logs.map((l) => JSON.stringify(l)).join('\n') + agent.text());
      keep('webhook bodies', hook.received.map((h) => h.raw).join('\n'));
      keep('hub log', hub!.out + hub!.err);

      const planted = { ...PLANTED, hubToken };
      const leaks: string[] = [];
      // A value whole, encoded, or any 8 characters of it in a row (what a cut left of it).
      const pieces = (v: string) => Array.from({ length: v.length - 7 }, (_, i) => v.slice(i, i + 8));
      for (const [where, text] of outputs)
        for (const [name, value] of Object.entries(planted))
          for (const form of [encodeURIComponent(value), Buffer.from(value).toString('base64'), ...pieces(value)])
            if (text.includes(form)) leaks.push(`${name} (${form}) in ${where}`);
      assert.deepEqual(leaks, [], 'no planted value is in any output');
      // The searches could find a leak: the outputs are there and say what happened.
      assert.match(outputs.get('rollgate status --output human')!, /bad commits +2/);
      assert.match(outputs.get('webhook bodies')!, /"kind":"rolled-back"/);
      assert.match(outputs.get(`hub /api/v1/gateways/${GW}`)!, /exited with code 3: db=\[redacted\]/);
      assert.match(outputs.get('agent log')!, /\$\{MEDIA_SRC\}/);
      assert.ok([...outputs.keys()].some((k) => k.startsWith('outbox ')));
    });
  },
);
