// rollgate's version, from its package.json (the one place it is written).

import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

export const ROLLGATE_VERSION: string = pkg.version;
