import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GitSync, SyncError } from '../../src/sync/index.js';
import { GitObjectSource } from '../../src/manifest/index.js';
import { descendsFrom } from '../../src/trust/index.js';
import { cleanup, exampleBareRepo, run, tempDir } from '../helpers/fixtures.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';

const noSleep = async () => {};

describe('sync against a real git http-backend', () => {
  let root: string;
  let server: GitServer;
  let commits: string[];
  let work: string;

  before(async () => {
    root = tempDir();
    ({ commits } = exampleBareRepo(root));
    server = await startGitServer(root);
    work = join(root, 'work');
    run('git', ['clone', '-q', join(root, 'fleet.git'), work]);
  });
  after(async () => {
    await server.close();
    cleanup(root);
  });

  const newSync = (name: string, extra: Partial<ConstructorParameters<typeof GitSync>[0]> = {}) =>
    new GitSync({
      url: server.url('fleet.git'),
      ref: 'main',
      gitdir: join(root, 'state', name),
      sleep: noSleep,
      backoffMs: 1,
      ...extra,
    });

  function pushCommit(message: string, force = false): string {
    writeFileSync(join(work, 'NOTES.md'), `${message}\n`);
    run('git', ['add', '-A'], work);
    run('git', ['commit', '-q', '-m', message], work);
    run('git', ['push', '-q', ...(force ? ['-f'] : []), 'origin', 'main'], work);
    return run('git', ['rev-parse', 'HEAD'], work);
  }

  test('clone: the first poll fetches the branch tip shallowly and its files are readable', async () => {
    const sync = newSync('clone');
    const r = await sync.poll();
    assert.equal(r.commit, commits[1]);
    assert.equal(r.fetched, true);
    const src = new GitObjectSource(sync.gitdir, r.commit);
    const fleet = await src.read('rollgate.yaml', { maxBytes: 1 << 20 });
    assert.match(new TextDecoder().decode(fleet!.bytes), /kind: Fleet/);
    // shallow: the parent commit is not in the store
    assert.equal(await sync.hasCommit(commits[0]!), false);
  });

  test('deepen: a shallow clone fetches just enough history to prove a commit descends from an older one', async () => {
    const sync = newSync('deepen');
    const base = (await sync.poll()).commit;
    pushCommit('deepen 1');
    pushCommit('deepen 2');
    const top = (await sync.poll()).commit;
    assert.equal(await sync.hasCommit(base), true, 'the earlier poll left it');
    assert.equal(await descendsFrom(sync.gitdir, top, base), false, 'the shallow store alone cannot tell');
    let asked = 0;
    const deepen = async (depth: number) => {
      asked++;
      await sync.deepen(depth);
    };
    assert.equal(await descendsFrom(sync.gitdir, top, base, { deepen }), true);
    assert.equal(asked, 1, 'one deepening fetch was enough');
  });

  for (const status of [307, 308, 301] as const)
    test(`a repository that moved (HTTP ${status}): polls and fetches follow the redirect, bodies resent`, async () => {
      server.redirect = { from: '/old/', to: '/', status };
      try {
        const u = new URL(server.url('fleet.git'));
        const sync = newSync(`moved-${status}`, { url: `${u.origin}/old/fleet.git` });
        const r = await sync.poll();
        assert.equal(r.commit, run('git', ['rev-parse', 'HEAD'], work));
        assert.equal(r.fetched, true);
        assert.ok(server.requests.some((q) => q.path.startsWith('/old/')));
      } finally {
        delete server.redirect;
      }
    });

  test('a repository URL with credentials in it is refused, and the error does not repeat them', () => {
    assert.throws(
      () => newSync('creds', { url: 'https://ops:s3cr3t@git.example.com/fleet.git' }),
      (e: Error) => /carries credentials .*repo\.tokenFile/.test(e.message) && !e.message.includes('s3cr3t'),
    );
  });

  test('credentials are never sent over plain http to a host other than loopback', async () => {
    const tokenFile = join(root, 'token');
    writeFileSync(tokenFile, 's3cret-token\n');
    const sync = newSync('plain-http', {
      url: 'http://fleet.example.invalid/fleet.git',
      auth: { kind: 'token', file: tokenFile },
      attempts: 1,
    });
    const err = await sync.poll().then(
      () => assert.fail('polled'),
      (e: unknown) => e as SyncError,
    );
    assert.equal(err.kind, 'auth');
    assert.match(err.message, /refusing to send credentials to fleet\.example\.invalid over plain http/);
    assert.doesNotMatch(err.message, /s3cret/);
  });

  test('a commit too large to fetch is cut off while streaming; a refused one is not fetched again', async () => {
    const sync = newSync('too-large', { maxFetchBytes: 256 * 1024, attempts: 1 });
    await sync.poll();
    writeFileSync(join(work, 'firmware.bin'), randomBytes(2 * 1024 * 1024));
    const big = pushCommit('a firmware image committed into git');
    const err = await sync.poll().then(
      () => assert.fail('fetched'),
      (e: unknown) => e as SyncError,
    );
    assert.equal(err.kind, 'too-large');
    assert.equal(err.commit, big);
    assert.match(err.message, /is more than 256 KiB to fetch, so it is refused .*put artifacts at URLs/);
    assert.ok(!(await sync.hasCommit(big)));
    server.requests.length = 0;
    const skipped = await sync.poll((c) => c === big);
    assert.equal(skipped.commit, big);
    assert.equal(skipped.fetched, false);
    assert.equal(server.requests.length, 1, 'only the ls-refs request');
    run('git', ['rm', '-q', 'firmware.bin'], work);
    pushCommit('firmware moved to the artifact store');
    assert.equal((await sync.poll()).fetched, true, 'the next commit, small again, is fetched');
  });

  test('an unchanged poll costs exactly one request', async () => {
    const sync = newSync('unchanged');
    await sync.poll();
    server.requests.length = 0;
    const r = await sync.poll();
    assert.equal(r.fetched, false);
    assert.equal(r.requests, 1);
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0]!.method, 'POST');
    assert.match(server.requests[0]!.path, /git-upload-pack$/);
  });

  test('a new commit is fetched; a force-push is followed', async () => {
    const sync = newSync('moves');
    const first = await sync.poll();
    const next = pushCommit('a new commit');
    const r = await sync.poll();
    assert.equal(r.commit, next);
    assert.equal(r.fetched, true);
    // force-push the branch back to a rewritten history
    run('git', ['reset', '-q', '--hard', first.commit], work);
    const rewritten = pushCommit('rewritten history', true);
    const r2 = await sync.poll();
    assert.equal(r2.commit, rewritten);
    assert.notEqual(r2.commit, next);
  });

  test('server down: a clear error after the retries, and the previous commit stays usable', async () => {
    const sync = newSync('down', { attempts: 2 });
    const good = await sync.poll();
    const dead = new GitSync({
      url: 'http://127.0.0.1:9/fleet.git',
      ref: 'main',
      gitdir: sync.gitdir,
      sleep: noSleep,
      backoffMs: 1,
      attempts: 2,
    });
    await assert.rejects(
      dead.poll(),
      (err: unknown) =>
        err instanceof SyncError &&
        err.kind === 'unreachable' &&
        /cannot reach http:\/\/127\.0\.0\.1:9/.test(err.message),
    );
    assert.equal(await sync.hasCommit(good.commit), true);
  });

  for (const fault of ['error500', 'cut-pack'] as const) {
    test(
      `server failing mid-fetch (${fault}) leaves the previous commit usable, and the next poll ` + `recovers`,
      async () => {
        const sync = newSync(`fault-${fault}`, { attempts: 2 });
        const good = await sync.poll();
        const next = pushCommit(`commit before ${fault}`);
        // Let ls-refs through, then fail the fetch.
        const orig = server.fault;
        server.fault = fault === 'error500' ? 'none' : 'cut-pack';
        if (fault === 'error500') {
          const count = server.requests.length;
          const watcher = setInterval(() => {
            if (server.requests.length > count) server.fault = 'error500';
          }, 0);
          await assert.rejects(sync.poll(), SyncError);
          clearInterval(watcher);
        } else {
          await assert.rejects(sync.poll(), SyncError);
        }
        server.fault = orig;
        assert.equal(await sync.hasCommit(good.commit), true, 'previous commit still complete');
        const src = new GitObjectSource(sync.gitdir, good.commit);
        assert.ok(await src.read('rollgate.yaml', { maxBytes: 1 << 20 }));
        const r = await sync.poll();
        assert.equal(r.commit, next);
      },
    );
  }

  test('auth: required token accepted; missing or wrong token is a non-retried auth error', async () => {
    server.token = 's3cret-token';
    try {
      const tokenFile = join(root, 'token');
      writeFileSync(tokenFile, 's3cret-token\n');
      const ok = await newSync('auth-ok', { auth: { kind: 'token', file: tokenFile } }).poll();
      assert.match(ok.commit, /^[0-9a-f]{40}$/);

      server.requests.length = 0;
      await assert.rejects(
        newSync('auth-none').poll(),
        (e: unknown) => e instanceof SyncError && e.kind === 'auth' && !e.retryable,
      );
      assert.equal(server.requests.length, 1, 'auth failures are not retried');

      const wrong = join(root, 'wrong');
      writeFileSync(wrong, 'not-the-token');
      await assert.rejects(
        newSync('auth-wrong', { auth: { kind: 'token', file: wrong } }).poll(),
        (e: unknown) => e instanceof SyncError && e.kind === 'auth' && !e.message.includes('not-the-token'),
      );
    } finally {
      delete server.token;
    }
  });

  test('a missing branch is reported by name', async () => {
    await assert.rejects(newSync('nobranch', { ref: 'release' }).poll(), /has no refs\/heads\/release/);
  });
});
