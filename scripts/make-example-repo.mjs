#!/usr/bin/env node
// Creates a git repository holding the rollout story of fleet-repo-example: one commit per step
// of examples/story/story.json. Dates and authors are fixed, so commit ids are the same on every
// machine. Usage: node scripts/make-example-repo.mjs DEST [--bare]
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const [dest, flag] = process.argv.slice(2);
if (!dest) {
  console.error('usage: node scripts/make-example-repo.mjs DEST [--bare]');
  process.exit(1);
}
if (existsSync(dest)) {
  console.error(`${dest} exists already; choose a new directory`);
  process.exit(1);
}
const story = JSON.parse(readFileSync(join(root, 'examples/story/story.json'), 'utf8'));
const work = flag === '--bare' ? mkdtempSync(join(tmpdir(), 'rollgate-example-')) : resolve(dest);
const git = (...args) =>
  execFileSync('git', args, {
    cwd: work,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Fleet Operator',
      GIT_AUTHOR_EMAIL: 'ops@example.com',
      GIT_COMMITTER_NAME: 'Fleet Operator',
      GIT_COMMITTER_EMAIL: 'ops@example.com',
    },
  })
    .toString()
    .trim();
execFileSync('git', ['init', '-q', '-b', 'main', work]);
story.steps.forEach((step, i) => {
  for (const entry of git('ls-files').split('\n').filter(Boolean)) rmSync(join(work, entry));
  cpSync(join(root, 'fleet-repo-example'), work, { recursive: true });
  if (step.overlay) cpSync(join(root, 'examples/story', step.overlay), work, { recursive: true });
  git('add', '-A');
  const date = `2026-01-0${i + 1}T12:00:00Z`;
  process.env.GIT_AUTHOR_DATE = process.env.GIT_COMMITTER_DATE = date;
  git('commit', '-q', '-m', step.message);
});
console.log(git('log', '--oneline'));
if (flag === '--bare') {
  execFileSync('git', ['clone', '-q', '--bare', work, resolve(dest)]);
  rmSync(work, { recursive: true, force: true });
}
