// The gateway's own files: registry credentials and variables files whose errors never quote a
// secret, and the state directory's owner id.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CENSOR, processSecrets } from '../../src/base/redact.js';
import { ownerOf, readHostSecrets, readRegistryAuth, readVariables } from '../../src/gateway/gateway.js';
import type { DesiredState } from '../../src/model/index.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';

describe('gateway files', () => {
  const dir = tempDir('rollgate-gateway-');
  after(() => cleanup(dir));

  test('a malformed registry credentials file is an error that does not quote it', async () => {
    const file = join(dir, 'registries.yaml');
    writeFileSync(file, 'registry.example.com: { username: gw, password: s3cr3t-pass\n');
    const err = await readRegistryAuth(file).then(
      () => assert.fail('read'),
      (e: unknown) => e as Error,
    );
    assert.match(err.message, /registries\.yaml is not valid YAML or JSON \(line \d+, column \d+/);
    assert.doesNotMatch(err.message, /s3cr3t/);
    writeFileSync(file, 'registry.example.com: { username: gw }\n');
    await assert.rejects(readRegistryAuth(file), /registry "registry\.example\.com" needs a username and a password/);
  });

  test('a variables file with a broken line names the line, not its content', async () => {
    const file = join(dir, 'gateway.env');
    writeFileSync(file, 'SITE=berlin\nAPI_TOKEN s3cr3t-token\n');
    const err = await readVariables([file]).then(
      () => assert.fail('read'),
      (e: unknown) => e as Error,
    );
    assert.match(err.message, /gateway\.env:2: expected KEY=VALUE/);
    assert.doesNotMatch(err.message, /s3cr3t/);
    await assert.rejects(readVariables([], ['s3cr3t']), (e: Error) => !e.message.includes('s3cr3t'));
  });

  test('nor the text of a value that is malformed (a quote with text after it, an unclosed ${)', async () => {
    const file = join(dir, 'gateway.env');
    writeFileSync(file, 'A="quoted" s3cr3t-after-the-quote\nB=s3cr3t-${UNCLOSED\n');
    const err = await readVariables([file]).then(
      () => assert.fail('read'),
      (e: unknown) => e as Error,
    );
    assert.match(err.message, /gateway\.env:1: A: unexpected text after the closing quote/);
    assert.match(err.message, /gateway\.env:2: B: a \$\{ has no closing \}/);
    assert.doesNotMatch(err.message, /s3cr3t/);
  });

  test('what the secret files hold becomes a secret of the process, scrubbed from its output', async () => {
    const vars = join(dir, 'vars.env');
    writeFileSync(vars, 'API_TOKEN=tok-from-the-variables-file\nSHORT=ab\n');
    await readVariables([vars], ['PIN=pin-from-the-flag']);
    const reg = join(dir, 'registries.yaml');
    writeFileSync(reg, 'registry.example.com: { username: gateway, password: registry-pw-1 }\n');
    await readRegistryAuth(reg);
    const secretFile = join(dir, 'api-key');
    writeFileSync(secretFile, 'key-from-a-gateway-file\n');
    await readHostSecrets({ apps: [{ hostSecretFiles: [secretFile, join(dir, 'missing')] }] } as DesiredState);
    const said =
      'tok-from-the-variables-file pin-from-the-flag registry-pw-1 key-from-a-gateway-file ab ' +
      `Basic ${Buffer.from('gateway:registry-pw-1').toString('base64')} for user gateway`;
    assert.equal(
      processSecrets.scrub(said),
      `${CENSOR} ${CENSOR} ${CENSOR} ${CENSOR} ab Basic ${CENSOR} for user gateway`,
      'user names are who, not secrets; values too short to tell apart stay',
    );
  });

  test("a state directory's owner id is made once and kept; none when the directory does not exist", async () => {
    const state = join(dir, 'state');
    assert.equal(await ownerOf(state), undefined);
    mkdirSync(state);
    const id = await ownerOf(state);
    assert.match(id ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(await ownerOf(state), id);
    assert.equal(readFileSync(join(state, 'owner'), 'utf8').trim(), id);
    writeFileSync(join(state, 'owner'), 'edited by hand\n');
    await assert.rejects(ownerOf(state), /does not hold an owner id/);
  });
});
