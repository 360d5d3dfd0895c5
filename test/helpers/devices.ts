// Simulated devices behind real update-interface executables (fleet-repo-example's
// simulated-device), real `.mender` artifacts from Debian's mender-artifact, and a fleet repo on
// disk naming them; `apply` runs the built CLI as a separate process.

import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { rollgateWith, type CliResult } from './cli.js';
import { projectRoot, tempDir } from './fixtures.js';

export const SIMULATED_DEVICE = join(projectRoot, 'fleet-repo-example/interfaces/simulated-device');
export const UPDATE_MODULES = '/usr/share/mender/modules/v3';

/** What a test needs from the machine; under CI=true a missing one fails the run. */
export function requireMenderTools(): string | undefined {
  const missing = [];
  try {
    execFileSync('mender-artifact', ['--version'], { stdio: 'ignore' });
  } catch {
    missing.push('mender-artifact (apt-get install mender-artifact)');
  }
  if (!existsSync(join(UPDATE_MODULES, 'single-file')))
    missing.push(`Update Modules in ${UPDATE_MODULES} (apt-get install mender-client)`);
  if (missing.length === 0) return undefined;
  const why = `missing: ${missing.join(', ')}`;
  if (process.env['CI'] === 'true') throw new Error(`update-interface tests cannot run under CI=true: ${why}`);
  process.stderr.write(`\n!!! SKIPPING the update-interface tests: ${why}\n\n`);
  return why;
}

/**
 * A module-image artifact named `name` for payload type `type`, with these payload files; built
 * for device type `deviceType`, the component type, as Mender builds artifacts of components.
 */
export function buildArtifact(
  out: string,
  type: string,
  name: string,
  files: Record<string, string | Buffer>,
  deviceType: string,
): string {
  const dir = tempDir('rollgate-payload-');
  const args = ['write', 'module-image', '-T', type, '-n', name, '-t', deviceType, '-o', out, '--compression', 'gzip'];
  for (const [f, content] of Object.entries(files)) {
    writeFileSync(join(dir, f), content);
    args.push('-f', join(dir, f));
  }
  execFileSync('mender-artifact', args, { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
  return out;
}

export interface ComponentSpec {
  id: string;
  type: string;
  iface: string;
  order: number;
}

/** G13 the gateway in group 10, R456 and R998 two RTOS devices in group 20. */
export const SYSTEM: ComponentSpec[] = [
  { id: 'G13', type: 'gateway', iface: 'gateway-rootfs', order: 10 },
  { id: 'R456', type: 'rtos', iface: 'rtos', order: 20 },
  { id: 'R998', type: 'rtos', iface: 'rtos', order: 20 },
];

export class DeviceLab {
  readonly root = tempDir('rollgate-devices-');
  readonly devices = join(this.root, 'devices');
  readonly interfaces = join(this.root, 'interfaces');
  readonly repo = join(this.root, 'repo');
  readonly stateDir = join(this.root, 'state');
  readonly rebootScript = join(this.root, 'reboot-gateway');

  constructor(readonly components: ComponentSpec[] = SYSTEM) {
    mkdirSync(this.interfaces, { recursive: true });
    mkdirSync(join(this.repo, 'artifacts'), { recursive: true });
    for (const name of new Set(components.map((c) => c.iface)))
      symlinkSync(SIMULATED_DEVICE, join(this.interfaces, name));
    // A gateway reboot: every device boots the slot its boot flag names, the boot id changes
    // (rollgate reads it from ROLLGATE_BOOT_ID_FILE), and the agent dies with the power.
    writeFileSync(
      this.rebootScript,
      `#!/bin/sh\nfor d in "$1"/*/; do [ -f "$d/bootflag" ] && cat "$d/bootflag" > "$d/running"; done\ncat ` +
        `/proc/sys/kernel/random/uuid > "$1/boot_id"\necho reboot >> "$1/reboots.log"\nkill -9 $PPID\n`,
    );
    chmodSync(this.rebootScript, 0o755);
    for (const type of new Set(components.map((c) => c.type)))
      for (const v of ['v1', 'v2', 'v3']) this.artifact(type, `${type}-${v}`);
  }

  /** Builds (once) the artifact `name` for component type `type`; returns its repo path. */
  artifact(
    type: string,
    name: string,
    payloadType = this.components.find((c) => c.type === type)?.iface ?? type,
    files?: Record<string, string | Buffer>,
  ): string {
    const rel = `artifacts/${name}.mender`;
    if (!existsSync(join(this.repo, rel)))
      buildArtifact(join(this.repo, rel), payloadType, name, files ?? { [`${name}.img`]: `${name} image\n` }, type);
    return rel;
  }

  /** Puts every device on `version(type)`, committed, with no update in flight. */
  seed(version: (type: string) => string): void {
    rmSync(this.devices, { recursive: true, force: true });
    for (const c of this.components) {
      const d = join(this.devices, c.id);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'id'), `${c.id}\n`);
      writeFileSync(join(d, 'slot-a'), `${version(c.type)}\n`);
      writeFileSync(join(d, 'running'), 'a\n');
      writeFileSync(join(d, 'bootflag'), 'a\n');
    }
    writeFileSync(join(this.devices, 'calls.log'), '');
    this.newBoot();
  }

  /** The simulated gateway's boot id, which rollgate compares to tell whether it rebooted. */
  get bootIdFile(): string {
    return join(this.devices, 'boot_id');
  }

  private newBoot(): void {
    writeFileSync(this.bootIdFile, `${randomUUID()}\n`);
  }

  device(id: string): string {
    return join(this.devices, id);
  }

  /**
   * Sets a query answer or a misbehaviour: `set('G13', 'reboot', 'Yes')`, `set('R456', 'misbehave/ArtifactInstall',
   * 'fail')`.
   */
  set(id: string, file: string, content: string): void {
    const p = join(this.device(id), file);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, `${content}\n`);
  }

  unset(id: string, file: string): void {
    rmSync(join(this.device(id), file), { force: true });
  }

  /** The version each device runs. */
  running(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const c of this.components) {
      const d = this.device(c.id);
      const slot = readFileSync(join(d, 'running'), 'utf8').trim();
      out[c.id] = existsSync(join(d, `slot-${slot}`))
        ? readFileSync(join(d, `slot-${slot}`), 'utf8').trim()
        : '(empty slot)';
    }
    return out;
  }

  /**
   * Devices with an update in flight (a `previous` slot not cleaned up) or a boot flag that disagrees with what runs.
   */
  unsettled(): string[] {
    return this.components
      .map((c) => c.id)
      .filter(
        (id) =>
          existsSync(join(this.device(id), 'previous')) ||
          readFileSync(join(this.device(id), 'bootflag'), 'utf8') !==
            readFileSync(join(this.device(id), 'running'), 'utf8'),
      );
  }

  /** Interface calls in order, as "<id> <State>". */
  calls(): string[] {
    return readFileSync(join(this.devices, 'calls.log'), 'utf8').split('\n').filter(Boolean);
  }

  clearCalls(): void {
    writeFileSync(join(this.devices, 'calls.log'), '');
  }

  reboots(): number {
    const p = join(this.devices, 'reboots.log');
    return existsSync(p) ? readFileSync(p, 'utf8').split('\n').filter(Boolean).length : 0;
  }

  /** A power cycle of the gateway while nobody is looking: every device boots its boot flag. */
  powerCycle(): void {
    for (const c of this.components) {
      const d = this.device(c.id);
      writeFileSync(join(d, 'running'), readFileSync(join(d, 'bootflag')));
    }
    this.newBoot();
  }

  /**
   * Writes the fleet repo: a 2024-form manifest with each type's artifact (`artifact(type)`
   * gives the repo path or a URL entry), every component's device directory as its last argument.
   */
  writeRepo(
    artifact: (type: string) => string | { url: string; name: string; sha256: string },
    extraTypes: Record<string, string> = {},
  ): void {
    const types = [...new Set(this.components.map((c) => c.type))];
    const lines = ['api_version: mender/v1', 'kind: update_manifest', 'version: test-system', 'component_types:'];
    for (const t of types) {
      const c = this.components.find((x) => x.type === t)!;
      const a = artifact(t);
      lines.push(`  ${t}:`);
      if (typeof a === 'string') lines.push(`    artifact_path: ${a}`);
      else
        lines.push(`    artifact_path: ${a.url}`, `    artifact_name: ${a.name}`, `    artifact_sha256: ${a.sha256}`);
      lines.push(`    update_interface: ${c.iface}`, `    update_strategy: { order: ${c.order} }`);
      if (extraTypes[t]) lines.push(extraTypes[t]);
    }
    lines.push('components:');
    for (const c of this.components)
      lines.push(`  - { component_type: ${c.type}, id: ${c.id}, args: [${JSON.stringify(this.device(c.id))}] }`);
    writeFileSync(join(this.repo, 'manifest.yaml'), lines.join('\n') + '\n');
    writeFileSync(
      join(this.repo, 'rollgate.yaml'),
      [
        'apiVersion: rollgate/v1',
        'kind: Fleet',
        'systems:',
        '  sim:',
        '    manifest: manifest.yaml',
        'targets:',
        '  - name: all',
        '    match: { any: true }',
        '    system: sim',
        '',
      ].join('\n'),
    );
  }

  /** The flags of a gateway policy that lets this lab's manifest pass its device directories to its interfaces. */
  policyInterfaceArgs(): string[] {
    return this.components.flatMap((c) => ['--policy-interface-arg', `${c.iface}=${this.device(c.id)}`]);
  }

  /** `rollgate apply` on this lab, as a separate process. */
  apply(opts: { env?: Record<string, string>; args?: string[] } = {}): Promise<CliResult> {
    return rollgateWith(
      { ROLLGATE_BOOT_ID_FILE: this.bootIdFile, ...opts.env },
      'apply',
      ...this.gatewayArgs(),
      '--reboot-command',
      `${this.rebootScript} ${this.devices}`,
      ...(opts.args ?? []),
    );
  }

  gatewayArgs(): string[] {
    return [
      '--repo',
      this.repo,
      '--id',
      'gw-test',
      '--state-dir',
      this.stateDir,
      '--interfaces-dir',
      this.interfaces,
      '--interfaces-dir',
      UPDATE_MODULES,
    ];
  }

  journalExists(): boolean {
    return existsSync(join(this.stateDir, 'journal.json'));
  }

  componentRecords(): string[] {
    const dir = join(this.stateDir, 'components');
    return existsSync(dir) ? readdirSync(dir) : [];
  }

  close(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
