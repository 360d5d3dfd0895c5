// Generated at build time into dist/src/manifest/validators.js by scripts/gen-validators.mjs from
// schemas/*.json (ajv's standalone code: allErrors, verbose), so validating loads no ajv.

import type { Validator } from '../base/validator.js';
import type { SchemaName } from './schema-names.js';

export declare const validators: Record<SchemaName, Validator>;
