// The test suite's Git smart-HTTP server (git http-backend behind a loopback HTTP server) in a
// process of its own, so that a benchmark can read its CPU time from /proc apart from the load it
// generates. Forked with an IPC channel: it sends { url, port } once listening, and answers
// "stats" with { requests, bytesIn, bytesOut, byKind }.
//
//   node dist/bench/git-serve.js <project root>

import { startGitServer } from '../test/helpers/git-server.js';

const root = process.argv[2];
if (!root || !process.send) throw new Error('usage: fork git-serve.js <project root> with an IPC channel');

const server = await startGitServer(root);
process.send({ kind: 'ready', url: server.url(''), port: server.port });
process.on('message', (m: unknown) => {
  if (m !== 'stats') return;
  const byKind: Record<string, number> = {};
  let bytesIn = 0;
  let bytesOut = 0;
  for (const r of server.requests) {
    const kind = `${r.method} ${r.path.replace(/^.*\/(info\/refs|git-upload-pack|git-receive-pack).*$/, '$1')}`;
    byKind[kind] = (byKind[kind] ?? 0) + 1;
    bytesIn += r.bytesIn;
    bytesOut += r.bytesOut;
  }
  process.send!({ kind: 'stats', requests: server.requests.length, bytesIn, bytesOut, byKind });
});
process.on('disconnect', () => void server.close().then(() => process.exit(0)));
