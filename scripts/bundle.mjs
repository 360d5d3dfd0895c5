#!/usr/bin/env node
// The gateway's build: the compiled CLI (dist/src) bundled with its dependencies into dist/bundle,
// so an install carries the code it runs and none of what it does not (issue 26: ≤ 25 MB beside
// Node). Split at the CLI's dynamic imports, so each command still loads only its own chunks.
// Left out, imported from beside the install when present: the hub's database drivers (a gateway
// never runs the hub; `rollgate hub` says what to install) and native addons, which cannot be bundled.
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
// As deep under the package as dist/src/<folder>/, so that the paths the code resolves from its own
// module (../../../schemas/, ../../../package.json) reach the same files.
const outdir = `${root}dist/bundle/cli`;
rmSync(`${root}dist/bundle`, { recursive: true, force: true });

// The Engine client loads dockerode through createRequire, lazily (src/apply/docker/engine.ts): in
// the bundle it is a CommonJS file of its own beside the chunks, required on the first call that
// changes something on the Engine. Bundled into a chunk, its megabyte (with ssh2, grpc-js and
// protobufjs) would be parsed by every command that observes the Engine, a no-op apply included.
const engineModule = `${root}dist/src/apply/docker/engine.js`;
const DOCKERODE_FILE = 'dockerode.cjs';
const lazyDockerode = {
  name: 'lazy-dockerode',
  setup(b) {
    b.onLoad({ filter: /[\\/]apply[\\/]docker[\\/]engine\.js$/ }, (args) => {
      const code = readFileSync(args.path, 'utf8');
      const call = "requireCjs('dockerode')";
      if (args.path === engineModule && !code.includes(call)) throw new Error(`${engineModule} no longer has ${call}`);
      return { contents: code.replace(call, `requireCjs('./${DOCKERODE_FILE}')`), loader: 'js' };
    });
  },
};
// The agent forks its worker from a file beside the module that starts it (src/agent/worker-runner.ts):
// in the bundle that file is an entry point of its own, with the bundle's extension.
const workerRunner = `${root}dist/src/agent/worker-runner.js`;
const workerEntry = {
  name: 'worker-entry',
  setup(b) {
    b.onLoad({ filter: /[\\/]agent[\\/]worker-runner\.js$/ }, (args) => {
      const code = readFileSync(args.path, 'utf8');
      const file = "'./worker-main.js'";
      if (args.path === workerRunner && !code.includes(file))
        throw new Error(`${workerRunner} no longer names ${file}`);
      return { contents: code.replace(file, "'./worker-main.mjs'"), loader: 'js' };
    });
  },
};
await build({
  entryPoints: { rollgate: `${root}dist/src/cli/main.js`, 'worker-main': `${root}dist/src/agent/worker-main.js` },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  legalComments: 'linked',
  outExtension: { '.js': '.mjs' },
  external: [...Object.keys(pkg.peerDependencies), ...Object.keys(pkg.optionalDependencies), 'cpu-features', '*.node'],
  // The bundled CommonJS packages call require() and read __dirname; ES modules have neither.
  banner: {
    js: [
      "import { createRequire as __rgRequire } from 'node:module';",
      "import { dirname as __rgDirname } from 'node:path';",
      "import { fileURLToPath as __rgPath } from 'node:url';",
      'const require = __rgRequire(import.meta.url);',
      'const __filename = __rgPath(import.meta.url);',
      'const __dirname = __rgDirname(__filename);',
    ].join(' '),
  },
  plugins: [lazyDockerode, workerEntry],
  logLevel: 'warning',
});

await build({
  entryPoints: ['dockerode'],
  outfile: `${outdir}/${DOCKERODE_FILE}`,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  legalComments: 'linked',
  external: ['cpu-features', '*.node'],
  logLevel: 'warning',
});
