// A fleet repo of Compose apps only, on disk, for the Docker tests: each `set` rewrites it and
// returns the desired state as rollgate loads it (validation and config hashes included).

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DirectorySource, loadDesiredState } from '../../src/manifest/index.js';
import type { DesiredState } from '../../src/model/index.js';
import { tempDir } from './fixtures.js';

export const GATEWAY = { id: 'gw-test', labels: {} };

export class AppRepo {
  constructor(readonly dir = tempDir('rollgate-apps-')) {}

  /**
   * Writes the repo with these apps (name -> compose YAML) and loads it. `files` are more files
   * of the repo (path -> content), e.g. config files beside a Compose file; `variables` are the
   * target's, `gatewayVariables` the gateway's own.
   */
  async set(
    apps: Record<string, string>,
    extra: {
      files?: Record<string, string>;
      variables?: Record<string, string>;
      gatewayVariables?: Record<string, string>;
    } = {},
  ): Promise<DesiredState> {
    rmSync(join(this.dir, 'apps'), { recursive: true, force: true });
    for (const [path, content] of Object.entries(extra.files ?? {})) {
      mkdirSync(dirname(join(this.dir, path)), { recursive: true });
      writeFileSync(join(this.dir, path), content);
    }
    this.gatewayVariables = extra.gatewayVariables ?? {};
    const none = Object.keys(apps).length === 0;
    const lines = ['apiVersion: rollgate/v1', 'kind: Fleet', 'systems:', none ? '  sys: { apps: {} }' : '  sys:'];
    if (!none) lines.push('    apps:');
    for (const [name, yaml] of Object.entries(apps)) {
      mkdirSync(join(this.dir, 'apps', name), { recursive: true });
      writeFileSync(join(this.dir, 'apps', name, 'compose.yaml'), yaml);
      lines.push(`      ${name}: apps/${name}/compose.yaml`);
    }
    lines.push('targets:', '  - name: all', '    match: { any: true }', '    system: sys');
    const vars = Object.entries(extra.variables ?? {});
    if (vars.length) lines.push('    variables:', ...vars.map(([k, v]) => `      ${k}: ${JSON.stringify(v)}`));
    writeFileSync(join(this.dir, 'rollgate.yaml'), lines.join('\n') + '\n');
    return this.load();
  }

  private gatewayVariables: Record<string, string> = {};

  load(): Promise<DesiredState> {
    return loadDesiredState(new DirectorySource(this.dir), GATEWAY, { variables: this.gatewayVariables });
  }
}
