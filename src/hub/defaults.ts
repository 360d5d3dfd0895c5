// The hub's defaults, in a module of their own: the CLI's help shows them without loading the hub.

export const DEFAULT_HUB_LISTEN = '127.0.0.1:9480';

/** Where the embedded database lives when neither --database nor --data-dir says otherwise. */
export const DEFAULT_HUB_DATA_DIR = '/var/lib/rollgate-hub';

/**
 * The gateways a rollout's page and `rollgate fleet rollout` list under each failure reason of a wave;
 * the rest are counted, and the page links to them all.
 */
export const ROLLOUT_FAILURES_LISTED = 20;
