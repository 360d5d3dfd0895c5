// Resident memory while a 300 MB junk pack is refused: the fleet repo's branch moves to a commit
// holding 300 MB of random bytes (what a firmware image committed into git looks like), served by a
// real `git http-backend`. rollgate's poll (GitSync, with the default repo.maxFetchSize) is measured
// against its peer in the same run: the same poll with no limit on the fetch, which is what the
// agent did before. Each runs in its own process; its peak resident memory (VmHWM) is the figure.
// Run with `npm run bench:fetch-limit`.

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGitServer } from '../test/helpers/git-server.js';
import { tempDir } from '../test/helpers/fixtures.js';

const JUNK_MB = Number(process.env['ROLLGATE_BENCH_JUNK_MB'] ?? 300);
const dist = fileURLToPath(new URL('..', import.meta.url));

/** A child process that polls `url` one way and prints its peak RSS and what happened. */
async function measure(
  kind: 'rollgate' | 'unbounded',
  url: string,
  gitdir: string,
): Promise<{ hwmKb: number; outcome: string }> {
  const script = `
    import { readFileSync } from 'node:fs';
    const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
    let outcome;
    try {
      if (${JSON.stringify(kind)} === 'rollgate') {
        const { GitSync } = await import(${JSON.stringify(join(dist, 'src/sync/index.js'))});
        const r = await new GitSync({ url: ${JSON.stringify(url)}, ref: 'main', gitdir: ${JSON.stringify(gitdir)},
          attempts: 1 }).poll();
        outcome = 'fetched ' + r.commit.slice(0, 12);
      } else {
        const { GitSync } = await import(${JSON.stringify(join(dist, 'src/sync/index.js'))});
        const r = await new GitSync({ url: ${JSON.stringify(url)}, ref: 'main', gitdir: ${JSON.stringify(gitdir)},
          attempts: 1, timeoutMs: 600000, idleTimeoutMs: 600000, maxFetchBytes: Number.MAX_SAFE_INTEGER }).poll();
        outcome = 'fetched ' + r.commit.slice(0, 12);
      }
    } catch (err) {
      outcome = 'refused: ' + String(err.message).split('\\n')[0].slice(0, 110);
    }
    console.log(JSON.stringify({ hwmKb: hwm(), outcome }));
  `;
  // Asynchronous: the git server answers from this process's event loop.
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: dist });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  const line = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`${kind} run failed: ${err.slice(-2000)}`);
  return JSON.parse(line) as { hwmKb: number; outcome: string };
}

async function main() {
  const root = tempDir('rollgate-bench-fetch-');
  const srv = join(root, 'srv');
  const work = join(root, 'work');
  mkdirSync(srv, { recursive: true });
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', ...args], { cwd });
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', join(srv, 'fleet.git')]);
  execFileSync('git', ['init', '-q', '-b', 'main', work]);
  execFileSync('sh', ['-c', `head -c ${JUNK_MB}M /dev/urandom > firmware.bin`], { cwd: work });
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', 'a firmware image committed into git');
  git(work, 'push', '-q', join(srv, 'fleet.git'), 'main');
  rmSync(join(work, 'firmware.bin'));
  const server = await startGitServer(srv);
  try {
    const url = server.url('fleet.git');
    const ours = await measure('rollgate', url, join(root, 'ours.git'));
    const peer = await measure('unbounded', url, join(root, 'peer.git'));
    const mb = (kb: number) => (kb / 1024).toFixed(0);
    console.log(`\n${JUNK_MB} MB pack of random bytes, Node ${process.version}\n`);
    console.log('| poll of the moved branch | peak resident memory (MB) | ratio | what happened |');
    console.log('|---|---:|---:|---|');
    const ratio = (ours.hwmKb / peer.hwmKb).toFixed(2);
    console.log(`| rollgate (repo.maxFetchSize 64M) | ${mb(ours.hwmKb)} | ${ratio}× | ${ours.outcome} |`);
    console.log(`| the same poll, no limit (the agent before) | ${mb(peer.hwmKb)} | 1.00× | ${peer.outcome} |`);
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
