// The loader hooks of ./module-trace.ts (they run on Node's loader thread): every module the ES
// loader loads, its URL appended to the trace file before it runs. CommonJS required from
// CommonJS does not pass here; ./module-trace.ts reads those from the require cache.

import { appendFileSync } from 'node:fs';
import type { InitializeHook, LoadHook } from 'node:module';

let file: string | undefined;

export const initialize: InitializeHook<{ file: string }> = (data) => {
  file = data.file;
};

export const load: LoadHook = (url, context, nextLoad) => {
  if (file && !url.startsWith('node:')) appendFileSync(file, `${url}\n`);
  return nextLoad(url, context);
};
