// Generated at build time into dist/src/agent/config-validators.js by scripts/gen-validators.mjs
// (ajv's standalone code: allErrors), so loading the configuration loads no ajv.

import type { Validator } from '../base/validator.js';

/** Each setting's value from a flag or the environment, by key (`schedule.interval`): leafSchema(). */
export declare const leafValidators: Readonly<Record<string, Validator>>;
/** A gateway policy file: POLICY_SCHEMA. */
export declare const policyValidator: Validator;
