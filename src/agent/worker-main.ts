// The entry of the agent's worker process (./worker.ts), forked by ./worker-runner.ts: a file of
// its own rather than a hidden CLI command, so the worker loads no argument parser and does not
// depend on how the CLI was started (a bin link, npx, a path).

import { serveWorker } from './worker.js';

serveWorker();
