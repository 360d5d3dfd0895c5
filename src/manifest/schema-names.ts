// The schemas of schemas/ by name, and which of them refers to which: what the build compiles
// into validators (scripts/gen-validators.mjs) and what the tests compile again to compare. Apart
// from ./schema.ts, so that the build can read it before the validators exist.

export const SCHEMA_NAMES = [
  'fleet',
  'health',
  'constraints',
  'mender-update-manifest',
  'mender-manifest',
  'mender-topology',
  'agent-config',
  'rollout-state',
  'compose-x-rollgate',
] as const;

export type SchemaName = (typeof SCHEMA_NAMES)[number];

/** Schemas another refers to by `$id` (the Compose file's x-rollgate.window is the fleet file's window). */
export const REFERS_TO: Partial<Record<SchemaName, SchemaName[]>> = { 'compose-x-rollgate': ['fleet'] };
