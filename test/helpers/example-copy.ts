// A writable copy of fleet-repo-example for tests that break one thing at a time.

import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  DirectorySource,
  type LoadOptions,
  FleetRepoError,
  loadDesiredState,
  type Problem,
} from '../../src/manifest/index.js';
import type { DesiredState, DeviceIdentity } from '../../src/model/index.js';
import { projectRoot, tempDir } from './fixtures.js';

export const CANARY: DeviceIdentity = { id: 'gw-0001', labels: {} };
export const GATEWAY: DeviceIdentity = { id: 'gw-0042', labels: { role: 'gateway' } };

export class ExampleCopy {
  readonly dir = tempDir('rollgate-fleet-');
  constructor() {
    cpSync(join(projectRoot, 'fleet-repo-example'), this.dir, { recursive: true });
  }
  path(p: string): string {
    return join(this.dir, p);
  }
  read(p: string): string {
    return readFileSync(this.path(p), 'utf8');
  }
  write(p: string, text: string | Buffer): this {
    mkdirSync(dirname(this.path(p)), { recursive: true });
    writeFileSync(this.path(p), text);
    return this;
  }
  edit(p: string, from: string | RegExp, to: string): this {
    const before = this.read(p);
    const after = before.replace(from, to);
    if (after === before) throw new Error(`test setup: ${String(from)} not found in ${p}`);
    return this.write(p, after);
  }
  symlink(target: string, p: string): this {
    symlinkSync(target, this.path(p));
    return this;
  }
  load(device: DeviceIdentity = GATEWAY, opts: LoadOptions = {}): Promise<DesiredState> {
    return loadDesiredState(new DirectorySource(this.dir), device, opts);
  }
  /** The problems the load is rejected with; fails when it loads. */
  async problems(device: DeviceIdentity = GATEWAY): Promise<Problem[]> {
    try {
      await this.load(device);
    } catch (err) {
      if (err instanceof FleetRepoError) return err.problems;
      throw err;
    }
    throw new Error('expected the fleet repo to be rejected, but it loaded');
  }
}

export const COMPOSE = 'systems/gateway/apps/edge/compose.yaml';
export const MANIFEST = 'systems/gateway/manifest.yaml';
export const FLEET = 'rollgate.yaml';
export const HEALTH = 'systems/gateway/health.yaml';
export const CONSTRAINTS = 'systems/gateway/constraints.yaml';
