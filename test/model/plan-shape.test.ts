// A step read back from the journal is checked against the shape of its own kind: a kind no
// rollgate knows, a field its kind needs missing, or a target of another kind is an error naming
// the field, before a resume acts on it.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeProblem, shapeProblem } from '../../src/base/shape.js';
import { STEP_SHAPE, type StepKind, type StepOf } from '../../src/model/index.js';

const component = { kind: 'component', key: 'G13', type: 'gateway' } as const;
const service = { kind: 'service', app: 'edge', service: 'api' } as const;
const network = { kind: 'network', app: 'edge', name: 'default' } as const;
const volume = { kind: 'volume', app: 'edge', name: 'data' } as const;

/** One step of every kind, as the planner writes them (the compiler wants every kind here). */
const EVERY_KIND = {
  download: {
    id: 'download component/G13',
    kind: 'download',
    target: component,
    dependsOn: [],
    from: 'gw-1',
    to: 'gw-2',
    artifact: { kind: 'repo', path: 'a.mender', size: 1 },
  },
  install: { id: 'install component/G13', kind: 'install', target: component, dependsOn: [], to: 'gw-2' },
  reboot: { id: 'reboot component/G13', kind: 'reboot', target: component, dependsOn: [], to: 'gw-2' },
  commit: { id: 'commit component/G13', kind: 'commit', target: component, dependsOn: [], to: 'gw-2' },
  cleanup: { id: 'cleanup component/G13', kind: 'cleanup', target: component, dependsOn: [] },
  pull: { id: 'pull image/x:1', kind: 'pull', target: { kind: 'image', ref: 'x:1' }, dependsOn: [], image: 'x:1' },
  'write-files': {
    id: 'write-files files/edge/abc',
    kind: 'write-files',
    target: { kind: 'files', app: 'edge', hash: 'abc' },
    dependsOn: [],
    to: '1 file',
  },
  'create-network': { id: 'create-network n', kind: 'create-network', target: network, dependsOn: [] },
  'recreate-network': {
    id: 'recreate-network n',
    kind: 'recreate-network',
    target: network,
    dependsOn: [],
    engineName: 'edge_default',
  },
  'remove-network': { id: 'remove-network n', kind: 'remove-network', target: network, dependsOn: [] },
  'create-volume': { id: 'create-volume v', kind: 'create-volume', target: volume, dependsOn: [] },
  'remove-volume': { id: 'remove-volume v', kind: 'remove-volume', target: volume, dependsOn: [] },
  create: { id: 'create s', kind: 'create', target: service, dependsOn: [], to: 'h2', image: 'x:1', replaces: 'c1' },
  start: {
    id: 'start s',
    kind: 'start',
    target: service,
    dependsOn: ['create s'],
    to: 'h2',
    waitFor: [{ service: 'db', condition: 'service_healthy' }],
    hooks: ['post_start: true'],
  },
  stop: { id: 'stop s@c1', kind: 'stop', target: service, dependsOn: [], containerId: 'c1' },
  remove: { id: 'remove s@c1', kind: 'remove', target: service, dependsOn: [], containerId: 'c1' },
} satisfies { [K in StepKind]: StepOf<K> };

/** A copy of a step without one of its fields. */
const without = (step: object, key: string) => Object.fromEntries(Object.entries(step).filter(([k]) => k !== key));

const problem = (step: unknown) => {
  const p = shapeProblem(step, STEP_SHAPE);
  return p && describeProblem(p);
};

describe('the shape of a step in the journal', () => {
  test('a step of every kind, as planned, is of its shape', () => {
    for (const [kind, step] of Object.entries(EVERY_KIND)) assert.equal(problem(step), undefined, kind);
  });

  test('a kind no rollgate knows is named, with the kinds there are', () => {
    assert.match(
      problem({ ...EVERY_KIND.pull, kind: 'push' }) ?? '',
      /^kind is a string \("push"\), expected one of download, install, .*, remove$/,
    );
    assert.match(problem(without(EVERY_KIND.pull, 'kind')) ?? '', /^kind is missing \(expected one of download/);
  });

  test('a field its kind needs is missing: named', () => {
    assert.equal(problem(without(EVERY_KIND.stop, 'containerId')), 'containerId is missing (expected a string)');
    assert.equal(problem(without(EVERY_KIND.pull, 'image')), 'image is missing (expected a string)');
  });

  test('a field of its kind of the wrong type is named', () => {
    assert.equal(
      problem({ ...EVERY_KIND.start, waitFor: [{ service: 'db' }] }),
      'waitFor[0].condition is missing (expected a string)',
    );
  });

  test('a target of another kind than its step acts on is named', () => {
    assert.equal(
      problem({ ...EVERY_KIND.stop, target: { kind: 'image', ref: 'x:1' } }),
      'target.kind is a string ("image"), expected "service"',
    );
  });
});
