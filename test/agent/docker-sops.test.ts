// SOPS-encrypted files in the fleet repo, end to end: a real agent on the private Engine, following
// a real git server, holds an age key (secrets.keyFiles, made by age-keygen). A commit whose env_file,
// `secrets:` file and bind-mounted config file are encrypted for it applies, and the container has the
// plaintext in its environment and its files; a commit encrypted for another gateway's key and one
// whose encrypted value was changed are rejected, naming the file and why. Then the agent's log,
// `rollgate status` and `history` (human and JSON), its state file and the reports waiting in its
// outbox are searched for the plaintexts, whole, encoded or in pieces.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { LABEL } from '../../src/apply/index.js';
import { AgentProcess, lastHistory } from '../helpers/agent-process.js';
import { rollgate } from '../helpers/cli.js';
import { exec } from '../helpers/container-io.js';
import { removeApp, requireDocker } from '../helpers/docker-tests.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { freePort } from '../helpers/hub-lab.js';
import { ageKeygen, sopsEncrypt, type AgeKey } from '../helpers/sops-writer.js';

const env = requireDocker();

const PLAIN = {
  apiToken: 'Sops-ApiToken-4Fq7',
  dbPassword: 'Sops-DbPass-9Lx2',
  configKey: 'Sops-ConfigKey-6Tb3',
};

describe(
  'an agent with an age key applies SOPS-encrypted files and lets no plaintext out',
  { skip: env ? false : 'no Docker Engine (see the line above)' },
  () => {
    const root = tempDir('rollgate-docker-sops-');
    const work = join(root, 'fleet');
    const srv = join(root, 'srv');
    const stateDir = join(root, 'state');
    const hubToken = join(root, 'hub-token');
    const outputs = new Map<string, string>();
    const keep = (where: string, text: string) => outputs.set(where, (outputs.get(where) ?? '') + text + '\n');
    let server: GitServer;
    let agent: AgentProcess;
    let docker: Docker;
    let image = '';
    let mine: AgeKey;
    let other: AgeKey;
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=Ops', '-c', 'user.email=ops@example.com', ...args], { cwd: work })
        .toString()
        .trim();

    /** The app `sealed`: its env_file, secret file and config file encrypted for `recipient`. */
    function commit(message: string, recipient: string, change?: (envFile: string) => string): string {
      const envFile = sopsEncrypt('dotenv', { API_TOKEN: PLAIN.apiToken }, [recipient]);
      writeFileSync(join(work, 'secrets.env'), change ? change(envFile) : envFile);
      writeFileSync(join(work, 'db.pass'), sopsEncrypt('binary', { data: PLAIN.dbPassword }, [recipient]));
      writeFileSync(join(work, 'config.yaml'), sopsEncrypt('yaml', { key: PLAIN.configKey }, [recipient]));
      git('add', '-A');
      git('commit', '-q', '-m', message);
      git('push', '-q', 'origin', 'main');
      return git('rev-parse', 'HEAD');
    }

    before(async () => {
      docker = env!.docker;
      image = await env!.image('sops/web', '1');
      mine = ageKeygen();
      other = ageKeygen();
      mkdirSync(srv, { recursive: true });
      mkdirSync(work, { recursive: true });
      execFileSync('git', ['init', '-q', '--bare', '-b', 'main', join(srv, 'fleet.git')]);
      execFileSync('git', ['init', '-q', '-b', 'main', work]);
      git('remote', 'add', 'origin', join(srv, 'fleet.git'));
      writeFileSync(
        join(work, 'rollgate.yaml'),
        'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  sys:\n    apps:\n      sealed: compose.yaml\n' +
          'targets:\n  - name: all\n    match: { any: true }\n    system: sys\n',
      );
      writeFileSync(
        join(work, 'compose.yaml'),
        [
          'services:',
          '  web:',
          `    image: ${image}`,
          '    command: ["httpd", "-f", "-p", "8080", "-h", "/"]',
          '    init: true',
          '    stop_grace_period: 1s',
          '    env_file: secrets.env',
          '    secrets: [db_pass]',
          '    volumes: ["./config.yaml:/etc/app/config.yaml:ro"]',
          'secrets:',
          '  db_pass: { file: ./db.pass }',
          '',
        ].join('\n'),
      );
      writeFileSync(hubToken, 'no-hub-listens-here\n', { mode: 0o600 });
      server = await startGitServer(srv);
    });

    after(async () => {
      await agent?.kill();
      await server?.close();
      if (docker) await removeApp(docker, 'sealed', { networks: ['sealed_default'] });
      cleanup(root);
    });

    test('the encrypted files apply: the container has the plaintext', async () => {
      const good = commit('sealed app', mine.recipient);
      agent = new AgentProcess(stateDir, [
        '--repo',
        server.url('fleet.git'),
        '--id',
        'gw-sops',
        '--docker-host',
        `unix://${env!.socket}`,
        '--decryption-key',
        mine.file,
        // No hub listens: the reports wait in the outbox, where they are read.
        '--report-url',
        `http://127.0.0.1:${await freePort()}`,
        '--report-token-file',
        hubToken,
        '--interval',
        '1s',
        '--jitter',
        '0s',
        '--retry',
        '500ms',
      ]);
      await agent.until('applied', (s) => s.lastGood?.commit === good, 90_000);
      const [c] = await docker.listContainers({ filters: JSON.stringify({ label: [`${LABEL.app}=sealed`] }) });
      assert.ok(c, 'web runs');
      const info = await docker.getContainer(c.Id).inspect();
      assert.ok(info.Config.Env.includes(`API_TOKEN=${PLAIN.apiToken}`), info.Config.Env.join(' '));
      assert.equal(await exec(docker, c.Id, ['cat', '/run/secrets/db_pass']), PLAIN.dbPassword);
      assert.match(await exec(docker, c.Id, ['cat', '/etc/app/config.yaml']), new RegExp(`key: ${PLAIN.configKey}`));
      assert.equal(statSync(join(stateDir, 'files')).mode & 0o777, 0o700, 'the files directory is its owner’s');
    });

    test('encrypted for another gateway, or a value changed: rejected, naming the file and why', async () => {
      const foreign = commit('sealed for another site', other.recipient);
      let s = await agent.until('foreign rejected', (x) => lastHistory(x, foreign)?.event === 'rejected');
      const why = s.bad.find((b) => b.commit === foreign)!.reason;
      assert.match(why, /secrets\.env is SOPS-encrypted, and no key this gateway holds opens it/);
      assert.ok(why.includes(`age ${other.recipient}`), why);
      const tampered = commit('sealed, a value changed', mine.recipient, (f) =>
        f.replace(/^API_TOKEN=ENC\[AES256_GCM,data:(.)/m, (m, ch: string) => m.slice(0, -1) + (ch === 'A' ? 'B' : 'A')),
      );
      s = await agent.until('tampered rejected', (x) => lastHistory(x, tampered)?.event === 'rejected');
      assert.match(s.bad.find((b) => b.commit === tampered)!.reason, /secrets\.env .*does not decrypt/);
    });

    test('no output holds a plaintext', async () => {
      for (const args of [['status'], ['history', '--limit', '50']])
        for (const output of ['human', 'json']) {
          const r = await rollgate(...args, '--state-dir', stateDir, '--output', output);
          assert.equal(r.code, 0, r.err);
          keep(`rollgate ${args[0]} --output ${output}`, r.out + r.err);
        }
      keep('agent-state.json', readFileSync(join(stateDir, 'agent-state.json'), 'utf8'));
      const outbox = join(stateDir, 'outbox');
      for (const f of readdirSync(outbox).filter((n) => n.endsWith('.json')))
        keep(`outbox ${f}`, readFileSync(join(outbox, f), 'utf8'));
      await agent.stop();
      keep('agent log', agent.logs.map((l) => JSON.stringify(l)).join('\n') + agent.text());
      // On disk, the plaintext is only where the containers read it: the files directory.
      for (const f of readdirSync(stateDir, { recursive: true }).map(String))
        if (!f.startsWith('files') && statSync(join(stateDir, f)).isFile())
          keep(`state file ${f}`, readFileSync(join(stateDir, f), 'utf8'));
      const leaks: string[] = [];
      const pieces = (v: string) => Array.from({ length: v.length - 7 }, (_, i) => v.slice(i, i + 8));
      for (const [where, text] of outputs)
        for (const [name, value] of Object.entries(PLAIN))
          for (const form of [encodeURIComponent(value), Buffer.from(value).toString('base64'), ...pieces(value)])
            if (text.includes(form)) leaks.push(`${name} (${form}) in ${where}`);
      assert.deepEqual(leaks, [], 'no plaintext is in any output');
      // The searches could find a leak: the outputs are there and say what happened.
      assert.match(outputs.get('rollgate status --output human')!, /bad commits +2/);
      assert.match(outputs.get('agent log')!, /SOPS-encrypted/);
      assert.ok([...outputs.keys()].some((k) => k.startsWith('outbox ')));
    });
  },
);
