// The agent's configuration: /etc/rollgate/config.yaml, validated against
// schemas/agent-config.schema.json (with file:line:column errors), then environment variables,
// then flags. The schema is the one list of settings: each leaf names its environment variable
// (x-env), its flag (x-flag), its default and its documentation, so --help, the README's table
// and the loader cannot drift apart.

import { readFile } from 'node:fs/promises';
import { Cron } from 'croner';
import type { GatewayPolicy } from '../manifest/index.js';
// The module itself, not the index: the index brings the git object reader (isomorphic-git) along.
import { formatProblem, Problems, type Problem } from '../manifest/problems.js';
import { validateSchema } from '../manifest/schema.js';
import { parseYamlFile } from '../manifest/yaml-file.js';
// Compiled at build time (scripts/gen-validators.mjs): no ajv at the agent's start.
import { leafValidators, policyValidator } from './config-validators.js';
import { DEFAULT_CONFIG_FILE, SETTINGS, type Setting } from './settings.js';

export { DEFAULT_CONFIG_FILE, SETTINGS, type Setting };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The resolved configuration; every key of schemas/agent-config.schema.json. */
export interface AgentConfig {
  repo: {
    url: string;
    ref: string;
    tokenFile?: string;
    basicAuthFile?: string;
    /** PEM certificates of CAs trusted for the git server, besides the defaults. */
    caFile?: string;
    timeout: string;
    allowPlainHttpAuth: boolean;
    maxFetchSize: string;
  };
  trust: {
    keys?: string[];
    /** Keys that may sign a rollout step and nothing else (src/lifecycle/gates/promoter-rules.ts). */
    promoterKeys?: string[];
    mode: 'head' | 'tag';
    allowRewrite: boolean;
    artifactKeys?: string[];
  };
  /** The keys that open SOPS-encrypted files of the fleet repo (src/trust/sops). */
  secrets?: { keyFiles?: string[] };
  /**
   * What this gateway allows the fleet repo to ask for (src/manifest/policy.ts); absent when no
   * `policy` key is set anywhere (file, environment, flags): then everything is allowed.
   */
  policy?: GatewayPolicy;
  gateway: { id: string; labels: Record<string, string>; variablesFile?: string };
  stateDir: string;
  schedule: { interval: string; cron?: string; jitter: string; watch: boolean; driftCheck: string; retry: string };
  docker: { host?: string; registryAuthFile?: string; engineWait: string };
  interfaces: {
    dirs?: string[];
    timeout: string;
    stateTimeouts: Record<string, string>;
    killGrace: string;
    rebootCommand: string;
    rebootWait: string;
    artifactCacheSize: string;
  };
  apply: { concurrency: number };
  stateScripts: { timeout: string; retryInterval: string; retryTimeout: string };
  metrics: { listen: string };
  /** Reports to a fleet hub (src/report); off without a url. */
  report: {
    url?: string;
    tokenFile?: string;
    heartbeat: string;
    outboxSize: string;
    caFile?: string;
    allowPlainHttp: boolean;
  };
  log: { level: LogLevel };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function leafValidator(s: Setting) {
  const v = leafValidators[s.key];
  if (!v) throw new Error(`no validator was built for the setting ${s.key}: rebuild (npm run build)`);
  return v;
}

function fromText(s: Setting, text: string, where: string): unknown {
  switch (s.kind) {
    case 'integer': {
      if (!/^[0-9]+$/.test(text.trim())) throw new ConfigError(`${where}: expected a whole number, got "${text}"`);
      return Number(text);
    }
    case 'boolean': {
      const t = text.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(t)) return true;
      if (['false', '0', 'no', 'off'].includes(t)) return false;
      throw new ConfigError(`${where}: expected true or false, got "${text}"`);
    }
    case 'list':
      return text
        .split(s.schema['x-separator'] ?? ':')
        .map((x) => x.trim())
        .filter(Boolean);
    case 'map':
      return pairsFrom(text.split(',').filter(Boolean), where);
    case 'string':
      return text;
  }
}

export function pairsFrom(pairs: string[], where: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new ConfigError(`${where}: expected key=value pairs, got "${p}"`);
    out[p.slice(0, eq).trim()] = p.slice(eq + 1).trim();
  }
  return out;
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const seg of path.slice(0, -1)) cur = (cur[seg] ??= {}) as Record<string, unknown>;
  cur[path[path.length - 1]!] = value;
}

function getPath(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

export type Source = 'flag' | 'env' | 'file' | 'default' | 'systemd';

export interface LoadedConfig {
  config: AgentConfig;
  /** Where each key's value came from. */
  sources: Record<string, Source>;
  /** The file read, when one was. */
  file?: string;
}

export interface LoadOptions {
  /** The file; ROLLGATE_CONFIG, then the default, when not given. A missing default file is fine. */
  file?: string;
  env: NodeJS.ProcessEnv;
  /** Parsed flags of `rollgate agent`, by commander attribute. */
  flags: Record<string, unknown>;
  /** False for commands that only need the state directory (status, history, sync). */
  requireAll: boolean;
}

export async function loadAgentConfig(o: LoadOptions): Promise<LoadedConfig> {
  const explicit = o.file ?? o.env['ROLLGATE_CONFIG'];
  const file = explicit ?? DEFAULT_CONFIG_FILE;
  let fileValue: unknown = {};
  let fileRead: string | undefined;
  let bytes: Buffer | undefined;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (explicit || code !== 'ENOENT')
      throw new ConfigError(
        `cannot read the configuration ` +
          `file ${file}: ${code === 'ENOENT' ? 'it does not exist' : (err as Error).message}`,
      );
  }
  if (bytes) {
    const problems = new Problems();
    const y = parseYamlFile(file, bytes, problems);
    if (y && y.value !== null && y.value !== undefined) validateSchema('agent-config', y, problems);
    if (problems.count > 0)
      throw new ConfigError(
        `the configuration file is not ` +
          `valid:\n${problems.list.map((p: Problem) => '  ' + formatProblem(p)).join('\n')}`,
      );
    fileValue = y?.value ?? {};
    fileRead = file;
  }

  const out: Record<string, unknown> = {};
  const sources: Record<string, Source> = {};
  const missing: Setting[] = [];
  for (const s of SETTINGS) {
    const flag = o.flags[s.attr];
    const env = o.env[s.env];
    let value: unknown;
    let source: Source | undefined;
    if (flag !== undefined && !(Array.isArray(flag) && flag.length === 0)) {
      value =
        s.kind === 'map'
          ? pairsFrom(flag as string[], s.flag.split(' ')[0]!)
          : s.kind === 'integer' || (s.kind === 'boolean' && typeof flag === 'string')
            ? fromText(s, String(flag), s.flag.split(' ')[0]!)
            : flag;
      source = 'flag';
    } else if (env !== undefined && env !== '') {
      value = fromText(s, env, `${s.env}=${env}`);
      source = 'env';
    } else if (getPath(fileValue, s.path) !== undefined) {
      value = getPath(fileValue, s.path);
      source = 'file';
    } else if (s.key === 'stateDir' && o.env['STATE_DIRECTORY']) {
      value = o.env['STATE_DIRECTORY'].split(':')[0];
      source = 'systemd';
    } else if (s.default !== undefined) {
      value = structuredClone(s.default);
      source = 'default';
    }
    if (value === undefined) {
      // The section exists even when none of its keys is set.
      if (s.path.length > 1) setPath(out, s.path.slice(0, -1), getPath(out, s.path.slice(0, -1)) ?? {});
      if (s.required) missing.push(s);
      continue;
    }
    if (source === 'flag' || source === 'env') {
      const v = leafValidator(s);
      if (!v(value)) {
        const where = source === 'flag' ? s.flag.split(' ')[0]! : s.env;
        const custom = (s.schema as { 'x-expected'?: string })['x-expected'];
        const exp =
          custom ??
          (s.schema.$ref
            ? 'a duration like 30s, 5m or 1h'
            : s.schema.enum
              ? `one of ${s.schema.enum.join(', ')}`
              : s.schema.pattern
                ? `a value matching ${s.schema.pattern}`
                : (v.errors?.[0]?.message ?? 'a valid value'));
        throw new ConfigError(`${where}: expected ${exp}, got ${JSON.stringify(value)}`);
      }
    }
    setPath(out, s.path, value);
    sources[s.key] = source!;
  }
  if (o.requireAll && missing.length > 0) {
    throw new ConfigError(
      `the agent needs ${missing.map((s) => s.key).join(' and ')}; ` +
        `set ${missing.map((s) => `${s.key} in ${file}, ${s.env} or ${s.flag.split(' ')[0]}`).join('; and ')}`,
    );
  }
  const config = out as unknown as AgentConfig;
  // A policy is there once any of its keys is set, or the file has a policy: map (even an empty
  // one, which allows nothing that reaches the host); otherwise there is none and all is allowed.
  const policyGiven =
    SETTINGS.some((s) => s.path[0] === 'policy' && sources[s.key] !== undefined) ||
    (fileValue !== null && typeof fileValue === 'object' && 'policy' in fileValue);
  if (!policyGiven) delete config.policy;
  else config.policy ??= {};
  if (config.schedule?.cron) {
    const problem = cronProblem(config.schedule.cron);
    if (problem)
      throw new ConfigError(
        `schedule.cron (${sources['schedule.cron']}): "${config.schedule.cron}" is not a cron ` +
          `expression: ${problem}`,
      );
  }
  return { config, sources, ...(fileRead ? { file: fileRead } : {}) };
}

/**
 * A gateway policy from a file, for `rollgate validate/diff/apply --policy-file`: the agent's
 * configuration file (its `policy:` is used, and its `stateDir`, where the gateway writes the
 * fleet repo's files) or a file holding just the policy map. Checked against the configuration
 * schema's `policy`, with errors naming the file.
 */
export async function readPolicyFile(file: string): Promise<{ policy: GatewayPolicy; stateDir?: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (err as Error).message;
    throw new ConfigError(`cannot read the policy file ${file}: ${why}`);
  }
  const problems = new Problems();
  const y = parseYamlFile(file, new TextEncoder().encode(text), problems);
  if (!y) throw new ConfigError(problems.list.map((p: Problem) => formatProblem(p)).join('\n'));
  const doc = y.value as Record<string, unknown> | null;
  const policy = doc && typeof doc === 'object' && 'policy' in doc ? doc['policy'] : doc;
  if (!policyValidator(policy ?? {}))
    throw new ConfigError(
      `${file}: not a gateway policy: ` +
        (policyValidator.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim()).join('; '),
    );
  const stateDir = doc && typeof doc === 'object' && 'policy' in doc ? doc['stateDir'] : undefined;
  return { policy: (policy ?? {}) as GatewayPolicy, ...(typeof stateDir === 'string' ? { stateDir } : {}) };
}

/** Why a cron expression cannot schedule polls, if it cannot: malformed, or no date it ever matches. */
function cronProblem(expression: string): string | undefined {
  // croner also takes a seventh field (years) and nicknames; the agent documents five or six fields.
  const fields = expression.trim().split(/\s+/).length;
  if (fields < 5 || fields > 6)
    return `it has ${fields} field(s), and a poll schedule takes five or six (seconds first)`;
  try {
    return new Cron(expression, { paused: true }).nextRun() === null ? 'it matches no date to come' : undefined;
  } catch (err) {
    return err instanceof Error ? err.message.replace(/^CronPattern: /, '') : String(err);
  }
}
