// What every file loader shares: the source, the problem list, and reading a file named by
// another file with the error placed where the name was written.

import type { GatewayPolicy } from './policy.js';
import type { Problems } from './problems.js';
import { RepoPathError, resolveRepoPath, type RepoFile, type RepoSource } from './source.js';
import { parseYamlFile, problemAt, type PathSeg, type YamlFile } from './yaml-file.js';
import { validateSchema, type SchemaName } from './schema.js';

/** A place in a YAML file: where a value was written, for error messages. */
export interface At {
  y: YamlFile;
  path: PathSeg[];
}

export class LoadContext {
  private readonly yamlCache = new Map<string, Promise<YamlFile | undefined>>();
  constructor(
    readonly source: RepoSource,
    readonly problems: Problems,
    /** The gateway's policy, when one is checked while loading. */
    readonly policy?: GatewayPolicy,
    /** The gateway's state directory, where nothing may be run from (health commands). */
    readonly stateDir?: string,
  ) {}

  at(at: At, message: string, which: 'key' | 'value' = 'value'): void {
    problemAt(this.problems, at.y, at.path, message, which);
  }

  /** What the file asks for at `at` breaks the gateway's policy `rule`. */
  breach(at: At, rule: string, message: string): void {
    problemAt(this.problems, at.y, at.path, `forbidden by this gateway's ${rule}: ${message}`, 'value', rule);
  }

  /** Resolves `rel` against the file at `at`; reports and returns undefined when it escapes. */
  resolve(at: At, rel: string): string | undefined {
    try {
      return resolveRepoPath(at.y.file, rel);
    } catch (err) {
      if (err instanceof RepoPathError) {
        this.at(at, err.message);
        return undefined;
      }
      throw err;
    }
  }

  /** Reads a file named at `at`; missing files and refused paths are reported there. */
  async readNamed(
    at: At | undefined,
    repoPath: string,
    opts: { maxBytes: number; head?: number },
    what: string,
  ): Promise<RepoFile | undefined> {
    let file: RepoFile | null;
    try {
      file = await this.source.read(repoPath, opts);
    } catch (err) {
      if (!(err instanceof RepoPathError)) throw err;
      if (at) this.at(at, err.message);
      else this.problems.add({ file: repoPath, message: err.message });
      return undefined;
    }
    if (!file) {
      const msg = `${what} ${repoPath} does not exist in ${this.source.label}`;
      if (at) this.at(at, msg);
      else this.problems.add({ file: repoPath, message: msg });
      return undefined;
    }
    return file;
  }

  /** Reads and parses a YAML file whose checks are the loader's own (Compose files). */
  async parse(at: At | undefined, repoPath: string, what: string): Promise<YamlFile | undefined> {
    const file = await this.readNamed(at, repoPath, { maxBytes: 1024 * 1024 }, what);
    return file ? parseYamlFile(repoPath, file.bytes, this.problems) : undefined;
  }

  /** Reads, parses and schema-validates a YAML file once; undefined if it has problems. */
  yaml(
    at: At | undefined,
    repoPath: string,
    schema: SchemaName | ((y: YamlFile) => SchemaName | undefined),
    what: string,
  ): Promise<YamlFile | undefined> {
    const key = `${repoPath}|${typeof schema === 'string' ? schema : 'dyn'}`;
    let p = this.yamlCache.get(key);
    if (!p) {
      p = (async () => {
        const file = await this.readNamed(at, repoPath, { maxBytes: 1024 * 1024 }, what);
        if (!file) return undefined;
        const y = parseYamlFile(repoPath, file.bytes, this.problems);
        if (!y) return undefined;
        const name = typeof schema === 'string' ? schema : schema(y);
        if (!name) return undefined;
        return validateSchema(name, y, this.problems) ? y : undefined;
      })();
      this.yamlCache.set(key, p);
    }
    return p;
  }
}
