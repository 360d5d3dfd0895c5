// The agent's settings as schemas/agent-config.schema.json lists them, each leaf with its key,
// environment variable, flag, default and documentation. Kept apart from the loader (./config.ts,
// which validates and parses cron expressions): `rollgate agent --help` is made from this list, and
// reading it costs one JSON file, not the loader's libraries.

import { readFileSync } from 'node:fs';

export const DEFAULT_CONFIG_FILE = '/etc/rollgate/config.yaml';

export interface LeafSchema {
  type?: string;
  enum?: string[];
  $ref?: string;
  pattern?: string;
  default?: unknown;
  description: string;
  'x-env': string;
  'x-flag': string;
  'x-required'?: boolean;
  /** What separates a list's items in an environment variable (default ":"). */
  'x-separator'?: string;
  items?: unknown;
  additionalProperties?: unknown;
}

export interface Setting {
  /** e.g. `schedule.interval` */
  key: string;
  path: string[];
  schema: LeafSchema;
  env: string;
  /** e.g. `--interval <duration>` */
  flag: string;
  /** The commander attribute the flag lands in, e.g. `interval`. */
  attr: string;
  kind: 'string' | 'integer' | 'boolean' | 'list' | 'map';
  required: boolean;
  description: string;
  default?: unknown;
}

const schemaUrl = new URL('../../../schemas/agent-config.schema.json', import.meta.url);
export const AGENT_CONFIG_SCHEMA = JSON.parse(readFileSync(schemaUrl, 'utf8')) as {
  definitions: Record<string, object>;
  properties: Record<string, unknown>;
};

function camel(flag: string): string {
  const long = flag.split(' ')[0]!.replace(/^--/, '');
  return long.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function collectSettings(props: Record<string, unknown>, prefix: string[]): Setting[] {
  const out: Setting[] = [];
  for (const [name, raw] of Object.entries(props)) {
    const s = raw as LeafSchema & { properties?: Record<string, unknown> };
    const path = [...prefix, name];
    if (s.properties) {
      out.push(...collectSettings(s.properties, path));
      continue;
    }
    const kind: Setting['kind'] =
      s.type === 'integer'
        ? 'integer'
        : s.type === 'boolean'
          ? 'boolean'
          : s.type === 'array'
            ? 'list'
            : s.type === 'object'
              ? 'map'
              : 'string';
    out.push({
      key: path.join('.'),
      path,
      schema: s,
      env: s['x-env'],
      flag: s['x-flag'],
      attr: camel(s['x-flag']),
      kind,
      required: s['x-required'] === true,
      description: s.description,
      ...(s.default !== undefined ? { default: s.default } : {}),
    });
  }
  return out;
}

/** Every setting, in the order of the schema. */
export const SETTINGS: readonly Setting[] = collectSettings(AGENT_CONFIG_SCHEMA.properties, []);

/**
 * The schema a setting's value from a flag or the environment is checked against: its leaf, with
 * the definitions a map's values may refer to (a `$ref` leaf is the definition itself). Compiled
 * at build time (scripts/gen-validators.mjs) into ./config-validators.js.
 */
export function leafSchema(s: Setting): object {
  return s.schema.$ref
    ? { ...AGENT_CONFIG_SCHEMA.definitions[s.schema.$ref.split('/').pop()!] }
    : { ...s.schema, definitions: AGENT_CONFIG_SCHEMA.definitions };
}

/** The schema of a gateway policy file (`--policy-file`): the configuration's `policy`. */
export const POLICY_SCHEMA = AGENT_CONFIG_SCHEMA.properties['policy'] as object;
