// The agent's policy settings: no policy key anywhere means no policy (everything allowed, as
// before policies existed); any one key — or a `policy:` map in the file, even an empty one —
// means a policy, under which the allow-rules are off unless set. A real configuration file and
// environment, then the commit loaded with what came out, as the agent loads it.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadAgentConfig } from '../../src/agent/config.js';
import { DirectorySource, FleetRepoError, loadDesiredState } from '../../src/manifest/index.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';

describe('agent configuration: the policy', () => {
  const root = tempDir('rollgate-policy-config-');
  after(() => cleanup(root));
  const load = (yaml: string, env: NodeJS.ProcessEnv = {}, flags: Record<string, unknown> = {}) => {
    const file = join(root, `config-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, `repo: { url: /srv/fleet }\ngateway: { id: gw }\n${yaml}`);
    return loadAgentConfig({ file, env, flags, requireAll: true });
  };
  const repo = join(root, 'repo');
  mkdirSync(join(repo, 'app'), { recursive: true });
  writeFileSync(join(repo, 'app/compose.yaml'), 'services:\n  web:\n    image: nginx:1\n    privileged: true\n');
  writeFileSync(
    join(repo, 'rollgate.yaml'),
    'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  s: { apps: { app: app/compose.yaml } }\n' +
      'targets:\n  - { name: all, match: { any: true }, system: s }\n',
  );
  const loadsUnder = (policy: object | undefined) =>
    loadDesiredState(new DirectorySource(repo), { id: 'gw', labels: {} }, policy ? { policy } : {}).then(
      () => true,
      (e: unknown) => {
        if (e instanceof FleetRepoError && e.forbidden) return false;
        throw e;
      },
    );

  test('no policy key anywhere: no policy, and a privileged service loads', async () => {
    const { config } = await load('');
    assert.equal(config.policy, undefined);
    assert.equal(await loadsUnder(config.policy), true);
  });

  test('one policy key (here an interface) is a policy: privileged is off unless allowed', async () => {
    const byFlag = await load('', {}, { policyInterface: ['rootfs-image'] });
    assert.deepEqual(byFlag.config.policy, { interfaces: ['rootfs-image'] });
    assert.equal(await loadsUnder(byFlag.config.policy), false);
    const allowed = await load('policy:\n  allowPrivileged: true\n');
    assert.equal(await loadsUnder(allowed.config.policy), true);
    const byEnv = await load('', { ROLLGATE_POLICY_ALLOW_HOST_IPC: 'true' });
    assert.deepEqual(byEnv.config.policy, { allowHostIpc: true });
    assert.equal(byEnv.sources['policy.allowHostIpc'], 'env');
  });

  test('an empty policy: map in the file is a policy that allows nothing reaching the host', async () => {
    const { config } = await load('policy: {}\n');
    assert.deepEqual(config.policy, {});
    assert.equal(await loadsUnder(config.policy), false);
  });

  test('lists from the environment: ";" where the items hold colons, ":" elsewhere', async () => {
    const { config } = await load('', {
      ROLLGATE_POLICY_SECURITY_OPT: 'label=disable; seccomp:unconfined',
      ROLLGATE_POLICY_DEVICE_CGROUP_RULES: 'c 188:* rwm;b 8:* r',
      ROLLGATE_POLICY_HOST_PORTS: '8080:8000-8099',
    });
    assert.deepEqual(config.policy, {
      securityOpt: ['label=disable', 'seccomp:unconfined'],
      deviceCgroupRules: ['c 188:* rwm', 'b 8:* r'],
      hostPorts: ['8080', '8000-8099'],
    });
    await assert.rejects(load('', { ROLLGATE_POLICY_HOST_PORTS: 'ssh' }), /ROLLGATE_POLICY_HOST_PORTS: expected/);
    const file = await load('policy:\n  hostPorts: [80, 8000-8099]\n');
    assert.deepEqual(file.config.policy, { hostPorts: [80, '8000-8099'] });
  });
});
