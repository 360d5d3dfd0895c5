// Which registry an image comes from, by Docker's rules, as both parts that ask it answer: the
// policy (policy.registries) and the Docker applier's puller (the registry a pull's credentials are
// for). They must agree, or a policy would allow one registry while the credentials of another are sent.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { registryOf as pullerRegistryOf } from '../../src/apply/docker/pull.js';
import { imageBreaches, registryOf } from '../../src/manifest/index.js';

const DIGEST = 'sha256:' + 'a'.repeat(64);

/** image reference → the registry Docker pulls it from. */
const ROWS: [string, string][] = [
  // Docker Hub: no registry named, official images, library/ names and user repositories.
  ['nginx', 'docker.io'],
  ['nginx:1.27', 'docker.io'],
  ['library/nginx', 'docker.io'],
  ['library/nginx:1.27-alpine', 'docker.io'],
  ['grafana/grafana:11.0.0', 'docker.io'],
  ['docker.io/library/nginx', 'docker.io'],
  ['docker.io/grafana/grafana', 'docker.io'],
  // A tag's colon is not a port: only the first part of a name with a slash can name a registry.
  ['busybox:1', 'docker.io'],
  ['team/app:5000', 'docker.io'],
  // Digests, with and without a tag, on Docker Hub and elsewhere.
  [`nginx@${DIGEST}`, 'docker.io'],
  [`library/nginx:1.27@${DIGEST}`, 'docker.io'],
  [`ghcr.io/home-assistant/home-assistant@${DIGEST}`, 'ghcr.io'],
  [`127.0.0.1:5000/app@${DIGEST}`, '127.0.0.1:5000'],
  // localhost, with and without a port.
  ['localhost/x', 'localhost'],
  ['localhost:5000/app', 'localhost:5000'],
  ['localhost:5000/team/app:1', 'localhost:5000'],
  // A first part with a dot or a port is a registry; without either it is a Docker Hub user.
  ['ghcr.io/home-assistant/home-assistant:stable', 'ghcr.io'],
  ['registry.example.com/a/b', 'registry.example.com'],
  ['registry.example.com:8443/a/b:2', 'registry.example.com:8443'],
  ['127.0.0.1:5000/t/web:1', '127.0.0.1:5000'],
  ['registry:5000/app', 'registry:5000'],
  ['[::1]:5000/app', '[::1]:5000'],
  ['registry/app', 'docker.io'],
  // Docker Hub's old name is Docker Hub; a capital letter makes the first part a host (Docker's parser:
  // a repository path is lower case), so a policy that allows docker.io does not let it through.
  ['index.docker.io/library/nginx', 'docker.io'],
  ['index.docker.io/team/app:1', 'docker.io'],
  ['Evil/app:1', 'Evil'],
  ['Registry/team/app', 'Registry'],
  ['Docker.IO/library/nginx', 'Docker.IO'],
];

describe('image references: the registry', () => {
  test('the puller asks the same function the policy does', () => {
    assert.equal(pullerRegistryOf, registryOf);
  });

  for (const [image, registry] of ROWS)
    test(`${image} → ${registry}`, () => {
      assert.equal(registryOf(image), registry);
      assert.equal(pullerRegistryOf(image), registry, 'the puller');
      const rules = (registries: string[]) => imageBreaches(image, { registries }).map((b) => b.rule);
      assert.deepEqual(rules([registry]), [], 'a policy that allows the registry allows the image');
      const refused = imageBreaches(image, { registries: ['elsewhere.example'] });
      assert.deepEqual(
        refused.map((b) => b.message),
        [`image ${image} comes from ${registry}, and this gateway pulls only from elsewhere.example`],
        'a policy that allows another registry refuses it, naming the registry',
      );
    });
});

describe('image references: what a policy of registries lets through', () => {
  const allowed = (image: string, registries: string[]) => imageBreaches(image, { registries }).length === 0;
  test('a capitalised first part is a host Docker would contact, not Docker Hub', () => {
    assert.equal(allowed('Evil/app:1', ['docker.io']), false);
    assert.equal(allowed('Evil/app:1', ['evil']), true, 'host names are compared without regard to case');
  });
  test('Docker Hub by any of its names, and host names in any case', () => {
    assert.equal(allowed('index.docker.io/library/nginx', ['docker.io']), true);
    assert.equal(allowed('nginx', ['index.docker.io']), true);
    assert.equal(allowed('Docker.IO/library/nginx', ['docker.io']), true);
    assert.equal(allowed('LOCALHOST:5000/app', ['localhost:5000']), true);
    assert.equal(allowed('localhost:5001/app', ['localhost:5000']), false);
    assert.equal(allowed('registry-1.docker.io/library/nginx', ['docker.io']), false, 'not a name Docker rewrites');
  });
});
