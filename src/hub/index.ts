export * from './api-types.js';
export {
  addGateway,
  addToken,
  AdminError,
  listTokens,
  removeGateway,
  removeToken,
  rotateGatewayToken,
} from './admin.js';
export { readHubConfig, HubConfigError, type HubFileConfig, type PromoterFileConfig } from './config.js';
export { DatabaseError, openDatabase, redactUrl, type Database } from './db.js';
export { migrate, MIGRATIONS, MigrationError } from './migrations.js';
export { listGateways } from './queries.js';
export { DEFAULT_HUB_LISTEN, Hub, type HubOptions } from './server.js';
export { PROMOTER_LOCK, PromoterLoop, type PromoterSettings } from './promoter-loop.js';
export type { WebhookTarget, Notification } from './webhook-body.js';
export { NOTIFY_KINDS, type NotifyKind } from './outcomes.js';
