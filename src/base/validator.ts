// A JSON-Schema validator as ajv's standalone code generates it at build time
// (scripts/gen-validators.mjs): a function that leaves its errors on itself. Only the error's type
// comes from ajv, so no module that validates loads ajv.

import type { ErrorObject } from 'ajv';

export type { ErrorObject };

export interface Validator<T = unknown> {
  (data: unknown): data is T;
  errors?: ErrorObject[] | null;
}
