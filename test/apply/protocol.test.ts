// The pure half of the update-interface protocol: invocation forms and strict query parsing.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  DEFAULT_TIMEOUTS,
  interfaceArgv,
  ProtocolError,
  QUERIES,
  STATES,
  timeoutOf,
  type InterfaceTarget,
} from '../../src/apply/index.js';
import { stateTimeouts } from '../../src/gateway/gateway.js';
import { projectRoot } from '../helpers/fixtures.js';
import {
  parseChoice,
  parseIdentity,
  parseKeyValues,
  parseNeedsReboot,
  parseNeedsUnpacked,
  parseSupportsRollback,
  providedVersion,
} from '../../src/apply/interface/protocol.js';
import { dirNameOf } from '../../src/apply/interface/work-dir.js';

const t: InterfaceTarget = {
  key: 'R456',
  type: 'rtos',
  id: 'R456',
  interface: 'rtos',
  interfaceArgs: ['a1', '7'],
  protocol: 'update_manifest',
};

describe('update-interface protocol', () => {
  test('the 2024 form passes the component id; the current form does not', () => {
    assert.deepEqual(interfaceArgv(t, 'ArtifactInstall', '/w'), ['ArtifactInstall', '/w', 'rtos', 'R456', 'a1', '7']);
    assert.deepEqual(interfaceArgv({ ...t, protocol: 'manifest', key: 'rtos.0' }, 'Provides', '/w'), [
      'Provides',
      '/w',
      'rtos',
      'a1',
      '7',
    ]);
  });

  test('an empty answer means the default of each query', () => {
    assert.equal(parseSupportsRollback(''), false);
    assert.equal(parseNeedsReboot('\n'), 'No');
    assert.equal(parseNeedsUnpacked(''), true);
    assert.equal(parseChoice('ProvidePayloadFileSizes', ''), 'No');
  });

  test('known values are accepted, with a trailing newline or CRLF', () => {
    assert.equal(parseSupportsRollback('Yes\n'), true);
    assert.equal(parseNeedsReboot('Automatic\r\n'), 'Automatic');
    assert.equal(parseNeedsUnpacked('No'), false);
  });

  test('two lines, or a value outside the set, is a protocol error that quotes the output', () => {
    assert.throws(
      () => parseNeedsReboot('Yes\nNo\n'),
      (e: unknown) => e instanceof ProtocolError && /must answer one line, got 2: "Yes\\nNo\\n"/.test(e.message),
    );
    assert.throws(() => parseSupportsRollback('yes'), /SupportsRollback must answer Yes, No or nothing, got "yes"/);
    assert.throws(() => parseNeedsReboot('Sometimes'), /NeedsArtifactReboot must answer No, Yes, Automatic or nothing/);
  });

  test('Identity is exactly one id= line', () => {
    assert.equal(parseIdentity('id=R456\n'), 'R456');
    assert.throws(() => parseIdentity(''), /Identity must answer one line/);
    assert.throws(() => parseIdentity('R456'), /Identity must answer "id=<component id>"/);
    assert.throws(() => parseIdentity('id=a\nid=b'), /got 2 lines/);
  });

  test('Provides and Inventory: key=value lines, repeated keys make lists, anything else is an error', () => {
    assert.deepEqual(parseKeyValues('Inventory', 'ip=1\nip=2\nname=x=y\n\n'), { ip: ['1', '2'], name: ['x=y'] });
    assert.throws(
      () => parseKeyValues('Provides', 'ok=1\nnot a pair\n'),
      /Provides answers "key=value" lines; line 2 is "not a pair"/,
    );
    assert.throws(() => parseKeyValues('Provides', '=v'), /line 1/);
  });

  test('the provided version: the interface-specific key first, then the generic ones', () => {
    assert.equal(providedVersion({ 'rootfs-image.rtos.version': ['r2'], 'rootfs-image.version': ['x'] }, 'rtos'), 'r2');
    assert.equal(providedVersion({ 'rootfs-image.version': ['x'] }, 'rtos'), 'x');
    assert.equal(providedVersion({ artifact_name: ['a'] }, 'rtos'), 'a');
    assert.equal(providedVersion({ other: ['a'] }, 'rtos'), undefined);
    assert.throws(() => providedVersion({ 'rootfs-image.rtos.version': ['1', '2'] }, 'rtos'), /2 times/);
  });

  test('component keys become directory names that never escape', () => {
    assert.equal(dirNameOf('G13'), 'G13');
    assert.equal(dirNameOf('rtos.0'), 'rtos.0');
    for (const k of ['..', '../x', 'a/b', '.']) {
      const d = dirNameOf(k);
      assert.ok(!d.includes('/') && d !== '..' && d !== '.', d);
    }
    assert.notEqual(dirNameOf('a/b'), dirNameOf('a_b'));
  });

  test("timeouts: a state's own, then Download's for DownloadWithFileSizes, then states or queries", () => {
    const t = {
      ...DEFAULT_TIMEOUTS,
      stateMs: 1000,
      queryMs: 10,
      perState: stateTimeouts(['Download=30m', 'Provides=5s', 'ArtifactInstall=2h']),
    };
    assert.equal(timeoutOf(t, 'Download'), 30 * 60_000);
    assert.equal(timeoutOf(t, 'DownloadWithFileSizes'), 30 * 60_000);
    assert.equal(timeoutOf(t, 'ArtifactInstall'), 2 * 3600_000);
    assert.equal(timeoutOf(t, 'ArtifactCommit'), 1000);
    assert.equal(timeoutOf(t, 'Provides'), 5000);
    assert.equal(timeoutOf(t, 'Identity'), 10);
    assert.equal(
      timeoutOf({ ...t, perState: { ...t.perState, DownloadWithFileSizes: 7 } }, 'DownloadWithFileSizes'),
      7,
    );
    assert.deepEqual(stateTimeouts({ Cleanup: '1m' }), { Cleanup: 60_000 });
  });

  test('a timeout for a name outside the protocol, or not a duration, is refused, naming it', () => {
    assert.throws(
      () => stateTimeouts(['ArtifactInstal=2h']),
      new RegExp(
        String.raw`--interface-state-timeout: "ArtifactInstal" is not a state or query of the update-in` +
          String.raw`terface protocol \(states: Download, .*ArtifactInstall`,
      ),
    );
    assert.throws(() => stateTimeouts(['Download']), /expected State=duration \(e\.g\. Download=30m\), got "Download"/);
    assert.throws(
      () => stateTimeouts(['Download=soon']),
      /--interface-state-timeout Download: "soon" is not a duration/,
    );
  });

  test("the agent configuration's stateTimeouts accepts exactly the protocol's states and queries", () => {
    const schema = JSON.parse(readFileSync(join(projectRoot, 'schemas/agent-config.schema.json'), 'utf8')) as {
      properties: { interfaces: { properties: { stateTimeouts: { propertyNames: { enum: string[] } } } } };
    };
    assert.deepEqual(schema.properties.interfaces.properties.stateTimeouts.propertyNames.enum, [...STATES, ...QUERIES]);
  });
});
