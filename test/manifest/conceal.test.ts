// The gateway's own variables (its variables file, --var) never appear in a problem or warning:
// a message about a value made from one names the variable. And the desired state says which
// environment values came from them, so output can mask them. Pure loading, no I/O but the repo.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { DirectorySource, FleetRepoError, formatProblem, loadDesiredState } from '../../src/manifest/index.js';
import { AppRepo, GATEWAY } from '../helpers/app-repo.js';
import { cleanup } from '../helpers/fixtures.js';

const repo = new AppRepo();
after(() => cleanup(repo.dir));

/** Every problem of loading `compose` with these gateway variables, one per line. */
async function problems(
  compose: string,
  gatewayVariables: Record<string, string>,
  extra: { files?: Record<string, string>; variables?: Record<string, string> } = {},
): Promise<string> {
  try {
    await repo.set({ app: compose }, { ...extra, gatewayVariables });
  } catch (err) {
    if (!(err instanceof FleetRepoError)) throw err;
    return err.problems.map(formatProblem).join('\n') + '\n' + err.message;
  }
  assert.fail('the repo loaded, and a problem was expected');
}

/** The message names the variable and holds none of the values. */
function names(text: string, variable: string, ...values: string[]): void {
  assert.ok(text.includes(`\${${variable}}`), `the message names \${${variable}}:\n${text}`);
  for (const v of values) assert.ok(!text.includes(v), `the message quotes ${JSON.stringify(v)}:\n${text}`);
}

describe('problems built from the gateway variables name the variable, never the value', () => {
  test('a required-variable error whose text interpolates a gateway variable', async () => {
    const text = await problems(
      'services:\n  web:\n    image: "busybox:${TAG:?no tag for the registry ${REGISTRY_PASSWORD}}"\n',
      { REGISTRY_PASSWORD: 'Hunter2-registry-pw' },
    );
    assert.match(text, /required variable TAG is not set/);
    names(text, 'REGISTRY_PASSWORD', 'Hunter2-registry-pw');
  });

  test('a bad mount: the string is shown as the file wrote it', async () => {
    const text = await problems('services:\n  web:\n    image: busybox\n    volumes: ["${MEDIA}:/media/"]\n', {
      MEDIA: 'vol-S3cret-Media:',
    });
    assert.match(text, /volumes: expected "volume:\/path"/);
    assert.ok(text.includes('"${MEDIA}:/media/"'), text);
    names(text, 'MEDIA', 'vol-S3cret-Media', 'S3cret');
  });

  test('a bad port, and a value too short to be looked for anywhere else', async () => {
    const long = await problems('services:\n  web:\n    image: busybox\n    ports: ["${ADMIN_PORT}:80"]\n', {
      ADMIN_PORT: 'port-Secret-9',
    });
    assert.match(long, /ports: expected a port like/);
    names(long, 'ADMIN_PORT', 'port-Secret-9');
    const short = await problems('services:\n  web:\n    image: busybox\n    ports: ["${ADMIN_PORT}:80"]\n', {
      ADMIN_PORT: 'x7',
    });
    assert.ok(short.includes('"${ADMIN_PORT}:80"'), short);
    assert.ok(!/\bx7\b/.test(short), `the short value is not quoted either:\n${short}`);
  });

  test('a bad environment entry, a value with quotes and regex characters, and a long-form port', async () => {
    const text = await problems(
      'services:\n  web:\n    image: busybox\n    environment: ["=${TOKEN}"]\n' +
        '    ports: [{ target: 80, published: "${PUBLISHED}" }]\n',
      { TOKEN: 'a"b\\c.*(d)+$[e]', PUBLISHED: 'pub-Secret-1' },
    );
    assert.match(text, /environment\.0: expected a "KEY=value" string/);
    assert.match(text, /published: expected a port or a range/);
    names(text, 'TOKEN', 'a"b', 'a\\"b', '(d)+');
    names(text, 'PUBLISHED', 'pub-Secret-1');
  });

  test('a label, a tmpfs size and a restart policy made from variables', async () => {
    const text = await problems(
      'services:\n  web:\n    image: busybox\n    labels: ["=${TENANT}"]\n' +
        '    tmpfs: []\n    shm_size: "${SHM}"\n    restart: "${POLICY}"\n',
      { TENANT: 'tenant-Acme-Secret', SHM: 'lots', POLICY: 'on' },
    );
    assert.match(text, /labels\.0: expected a "KEY=value" string, got string "=\$\{TENANT\}"/);
    assert.match(text, /shm_size: expected a size .*got string "\$\{SHM\}"/);
    assert.match(text, /restart: expected .*got string "\$\{POLICY\}"/);
    assert.match(text, /"on-failure"/, 'a short value is named where it is quoted whole, not inside other words');
    names(text, 'TENANT', 'tenant-Acme-Secret', '"lots"', '"on"');
  });

  test('a policy breach about a bind made from a variable', async () => {
    const variables = { DATA_DIR: '/srv/secret-customer-acme' };
    await repo.set(
      { app: 'services:\n  web:\n    image: busybox\n    volumes: ["${DATA_DIR}:/data"]\n' },
      { gatewayVariables: variables },
    );
    const err = await loadDesiredState(new DirectorySource(repo.dir), GATEWAY, {
      variables,
      policy: { bindPaths: ['/srv/edge'] },
    }).catch((e: unknown) => e);
    assert.ok(err instanceof FleetRepoError, String(err));
    assert.match(err.message, /forbidden by this gateway's policy\.bindPaths/);
    names(err.message, 'DATA_DIR', 'secret-customer-acme');
  });

  test('a .env value made from a gateway variable is as secret as the variable', async () => {
    const text = await problems(
      'services:\n  web:\n    image: busybox\n    ports: ["${DSN}"]\n',
      { DB_PASSWORD: 'pw-Very-Secret' },
      { files: { 'apps/app/.env': 'DSN=postgres://app:${DB_PASSWORD}@db/app\n' } },
    );
    assert.match(text, /ports: expected a port like/);
    assert.ok(!text.includes('pw-Very-Secret'), text);
    assert.ok(text.includes('${DSN}') || text.includes('${DB_PASSWORD}'), text);
  });

  test('warnings name the variable too', async () => {
    const d = await repo.set(
      { app: 'services:\n  web:\n    image: "${REGISTRY}/web:1"\n    build: .\n' },
      { gatewayVariables: { REGISTRY: 'registry.customer-secret.example' } },
    );
    const w = (d.warnings ?? []).join('\n');
    assert.match(w, /"build" is accepted and has no effect/);
    names(w, 'REGISTRY', 'customer-secret');
  });

  test("the fleet target's variables are in Git, and messages may quote them", async () => {
    const text = await problems(
      'services:\n  web:\n    image: busybox\n    ports: ["${ADMIN_PORT}:80"]\n',
      {},
      { variables: { ADMIN_PORT: 'not-a-port' } },
    );
    assert.ok(text.includes('not-a-port:80'), text);
  });
});

describe('the desired state says what the gateway variables made, so output can show it as written', () => {
  test("interpolated strings, with the text the file wrote; the fleet target's variables are not listed", async () => {
    const d = await repo.set(
      {
        app:
          'services:\n  web:\n    image: "${REGISTRY}/web:${TAG}"\n    environment:\n' +
          '      PASSWORD: "${DB_PASSWORD}"\n      URL: "http://db/${DB_NAME}"\n      FROM_DOTENV: "${DSN}"\n',
      },
      {
        gatewayVariables: { DB_PASSWORD: 'pw-1234567', TAG: 'v2' },
        variables: { DB_NAME: 'fleet', REGISTRY: 'registry.example.com' },
        files: { 'apps/app/.env': 'DSN=postgres://u:${DB_PASSWORD}@db\n' },
      },
    );
    const web = d.apps[0]!.services[0]!;
    assert.equal(web.config.environment['PASSWORD'], 'pw-1234567', 'the container gets the real value');
    assert.deepEqual((d.gatewayInterpolations ?? []).map((i) => [i.written, i.value]).sort(), [
      ['${DB_PASSWORD}', 'pw-1234567'],
      ['${DSN}', 'postgres://u:pw-1234567@db'],
      ['${REGISTRY}/web:${TAG}', 'registry.example.com/web:v2'],
    ]);
  });

  test('gateway files mounted as secrets are listed, so their content can be kept out of output', async () => {
    const d = await repo.set({
      app:
        'services:\n  web:\n    image: busybox\n    secrets: [key]\n' +
        'secrets:\n  key: { file: /etc/rollgate/api-key }\n',
    });
    assert.deepEqual(d.apps[0]!.hostSecretFiles, ['/etc/rollgate/api-key']);
  });
});
