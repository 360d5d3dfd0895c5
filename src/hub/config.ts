// The hub's configuration file (`rollgate hub --config hub.yaml`): what flags say too, plus the
// webhooks. Flags beat the file. Errors name the file and the key.

import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { NOTIFY_KINDS, type NotifyKind } from './outcomes.js';
import type { WebhookTarget } from './webhook-body.js';

export interface HubFileConfig {
  listen?: string;
  database?: string;
  dataDir?: string;
  tls?: { cert: string; key: string };
  silentAfter?: string;
  /** How long events are kept. */
  retain?: string;
  /** The first retry of a failed webhook; doubled each time, up to an hour. */
  webhookRetry?: string;
  webhooks: WebhookTarget[];
  /** The promoter loop (`rollgate hub --promote-repo`), as `promoter:` in the file. */
  promoter?: PromoterFileConfig;
  /** The fleet repo the pages read (`rollgate hub --repo`), as `repo:` in the file. */
  repo?: RepoFileConfig;
}

/** `repo:` of hub.yaml: the flags --repo and --repo-<key> say the same. */
export interface RepoFileConfig {
  /** The repository's URL, or a local path. */
  url?: string;
  ref?: string;
  authTokenFile?: string;
  authBasicFile?: string;
  trustedKeys?: string[];
  interval?: string;
  /** PEM certificates of CAs trusted for an https repository besides the defaults. */
  caFile?: string;
}

const REPO_KEYS = ['url', 'ref', 'authTokenFile', 'authBasicFile', 'trustedKeys', 'interval', 'caFile'] as const;

/** `promoter:` of hub.yaml: the flags --promote-<key> say the same. */
export interface PromoterFileConfig {
  repo?: string;
  ref?: string;
  signingKey?: string;
  signingPassphraseFile?: string;
  authTokenFile?: string;
  authBasicFile?: string;
  /** PEM certificates of CAs trusted for the git server besides the defaults (fetch and push). */
  caFile?: string;
  by?: string;
  interval?: string;
}

const PROMOTER_KEYS = [
  'repo',
  'ref',
  'signingKey',
  'signingPassphraseFile',
  'authTokenFile',
  'authBasicFile',
  'caFile',
  'by',
  'interval',
] as const;

export class HubConfigError extends Error {
  override name = 'HubConfigError';
}

const KEYS = [
  'listen',
  'database',
  'dataDir',
  'tls',
  'silentAfter',
  'retain',
  'webhookRetry',
  'webhooks',
  'promoter',
  'repo',
];

export async function readHubConfig(file: string): Promise<HubFileConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new HubConfigError(`cannot read the hub configuration ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text) ?? {};
  } catch (err) {
    throw new HubConfigError(`${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new HubConfigError(`${file}: expected a map of settings (${KEYS.join(', ')})`);
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d))
    if (!KEYS.includes(k)) throw new HubConfigError(`${file}: unknown key "${k}" (known: ${KEYS.join(', ')})`);
  const str = (k: string): string | undefined => {
    const v = d[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new HubConfigError(`${file}: ${k} must be a string`);
    return v;
  };
  const out: HubFileConfig = { webhooks: [] };
  for (const k of ['listen', 'database', 'dataDir', 'silentAfter', 'retain', 'webhookRetry'] as const) {
    const v = str(k);
    if (v !== undefined) out[k] = v;
  }
  if (d['tls'] !== undefined) {
    const t = d['tls'] as { cert?: unknown; key?: unknown };
    if (typeof t?.cert !== 'string' || typeof t?.key !== 'string')
      throw new HubConfigError(`${file}: tls needs cert and key (paths of PEM files)`);
    out.tls = { cert: t.cert, key: t.key };
  }
  const pr = d['promoter'];
  if (pr !== undefined) {
    if (typeof pr !== 'object' || pr === null || Array.isArray(pr))
      throw new HubConfigError(`${file}: promoter must be a map (${PROMOTER_KEYS.join(', ')})`);
    const promoter: PromoterFileConfig = {};
    for (const [k, v] of Object.entries(pr)) {
      if (!(PROMOTER_KEYS as readonly string[]).includes(k))
        throw new HubConfigError(`${file}: unknown key "promoter.${k}" (known: ${PROMOTER_KEYS.join(', ')})`);
      if (typeof v !== 'string') throw new HubConfigError(`${file}: promoter.${k} must be a string`);
      promoter[k as (typeof PROMOTER_KEYS)[number]] = v;
    }
    out.promoter = promoter;
  }
  if (d['repo'] !== undefined) out.repo = repoConfig(file, d['repo']);
  const hooks = d['webhooks'] ?? [];
  if (!Array.isArray(hooks)) throw new HubConfigError(`${file}: webhooks must be a list of { url, events }`);
  for (const [i, h] of hooks.entries()) {
    const w = h as { url?: unknown; events?: unknown; secretFile?: unknown };
    const where = `${file}: webhooks[${i}]`;
    if (typeof w?.url !== 'string' || !/^https?:\/\//.test(w.url) || !URL.canParse(w.url))
      throw new HubConfigError(`${where}.url must be an http:// or https:// URL`);
    const u = new URL(w.url);
    if (u.username || u.password)
      throw new HubConfigError(
        `${where}.url (to ${u.host}) has credentials in it (user:password@), which would be kept in the database ` +
          'and could reach logs: take them out; a webhook that needs a secret has it in its path (as Slack ' +
          'puts it), or signs with secretFile',
      );
    let events: NotifyKind[] = [...NOTIFY_KINDS];
    if (w.events !== undefined) {
      if (!Array.isArray(w.events) || w.events.some((e) => !(NOTIFY_KINDS as readonly unknown[]).includes(e)))
        throw new HubConfigError(`${where}.events must be a list of ${NOTIFY_KINDS.join(', ')}`);
      events = w.events as NotifyKind[];
    }
    let secret: string | undefined;
    if (w.secretFile !== undefined) {
      if (typeof w.secretFile !== 'string') throw new HubConfigError(`${where}.secretFile must be a path`);
      try {
        secret = (await readFile(w.secretFile, 'utf8')).trim();
      } catch (err) {
        throw new HubConfigError(`${where}.secretFile: cannot read ${w.secretFile}: ${(err as Error).message}`);
      }
    }
    out.webhooks.push({ url: w.url, events, ...(secret ? { secret } : {}) });
  }
  return out;
}

function repoConfig(file: string, r: unknown): RepoFileConfig {
  if (typeof r !== 'object' || r === null || Array.isArray(r))
    throw new HubConfigError(`${file}: repo must be a map (${REPO_KEYS.join(', ')})`);
  const repo: RepoFileConfig = {};
  for (const [k, v] of Object.entries(r)) {
    if (k === 'trustedKeys') {
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
        throw new HubConfigError(`${file}: repo.trustedKeys must be a list of paths`);
      repo.trustedKeys = v as string[];
    } else if ((REPO_KEYS as readonly string[]).includes(k)) {
      if (typeof v !== 'string') throw new HubConfigError(`${file}: repo.${k} must be a string`);
      repo[k as Exclude<(typeof REPO_KEYS)[number], 'trustedKeys'>] = v;
    } else throw new HubConfigError(`${file}: unknown key "repo.${k}" (known: ${REPO_KEYS.join(', ')})`);
  }
  if (!repo.url) throw new HubConfigError(`${file}: repo.url names the fleet repo (a URL, or a local path)`);
  return repo;
}
