export {
  configHash,
  DEFAULT_APP_ORDER,
  loadComposeApp,
  type AppInputs,
  type ServiceOverride,
  type ServiceOverrides,
} from './app.js';
export { dotEnv } from './app-variables.js';
export { parseEnvFile, splitCommand } from './env-file.js';
export { interpolate, InterpolationError, type Variables } from './interpolate.js';
export { RESERVED_LABEL_PREFIX } from './service.js';
