// Generated at build time into dist/src/hub/report-validators.js by scripts/gen-validators.mjs from
// ./report-json-schema.ts (ajv's standalone code), so the hub loads no ajv.

import type { Validator } from '../base/validator.js';
import type { ReportEvent } from '../model/index.js';

// Reports drop what they do not know (removeAdditional); an admin's request is checked as written.
/** ENVELOPE_JSON_SCHEMA, dropping unknown properties. */
export declare const checkEnvelope: Validator;
/** EVENT_JSON_SCHEMA, dropping unknown properties. */
export declare const checkEvent: Validator<ReportEvent>;
/** NEW_GATEWAY_JSON_SCHEMA, as written. */
export declare const checkNewGateway: Validator<{ id: string; labels?: Record<string, string> }>;
