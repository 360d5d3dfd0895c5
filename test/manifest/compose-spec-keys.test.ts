// Every key of the Compose specification's own JSON schema (test/fixtures/compose-spec) is either
// honoured — the container request or the plan changes — or refused with a sentence naming it, or
// accepted with a warning saying why it means nothing on a gateway. Never silently ignored.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { containerSpec, hostPaths } from '../../src/apply/index.js';
import { plan } from '../../src/plan/index.js';
import { DirectorySource, FleetRepoError, loadDesiredState } from '../../src/manifest/index.js';
import { emptyObservedState, type DesiredState } from '../../src/model/index.js';
import { cleanup, projectRoot, tempDir } from '../helpers/fixtures.js';

interface SpecSchema {
  properties: Record<string, unknown>;
  definitions: Record<string, { properties: Record<string, unknown> }>;
}
const spec = JSON.parse(
  readFileSync(join(projectRoot, 'test/fixtures/compose-spec/compose-spec.json'), 'utf8'),
) as SpecSchema;

type Doc = Record<string, unknown>;
/** A sample use of a key: what it adds to the service (or to the top level), written as people write it. */
type Sample = { service?: Doc; top?: Doc };

const svc = (k: string, v: unknown): Sample => ({ service: { [k]: v } });

const SERVICE: Record<string, Sample> = {
  annotations: svc('annotations', { 'com.example.a': 'b' }),
  attach: svc('attach', false),
  blkio_config: svc('blkio_config', { weight: 300 }),
  build: svc('build', '.'),
  cap_add: svc('cap_add', ['NET_ADMIN']),
  cap_drop: svc('cap_drop', ['ALL']),
  cgroup: svc('cgroup', 'private'),
  cgroup_parent: svc('cgroup_parent', 'gw.slice'),
  command: svc('command', 'sleep 100'),
  configs: { service: { configs: ['cfg'] }, top: { configs: { cfg: { content: 'x=1' } } } },
  container_name: svc('container_name', 'mosquitto'),
  cpu_count: svc('cpu_count', 2),
  cpu_percent: svc('cpu_percent', 50),
  cpu_period: svc('cpu_period', 100000),
  cpu_quota: svc('cpu_quota', 50000),
  cpu_rt_period: svc('cpu_rt_period', 1000000),
  cpu_rt_runtime: svc('cpu_rt_runtime', 950000),
  cpu_shares: svc('cpu_shares', 512),
  cpus: svc('cpus', '0.5'),
  cpuset: svc('cpuset', '0-1'),
  credential_spec: svc('credential_spec', { file: 'x.json' }),
  depends_on: svc('depends_on', ['other']),
  deploy: svc('deploy', { resources: { limits: { memory: '64m' } } }),
  develop: svc('develop', { watch: [{ path: '.', action: 'rebuild' }] }),
  device_cgroup_rules: svc('device_cgroup_rules', ['c 188:* rmw']),
  devices: svc('devices', ['/dev/ttyUSB0:/dev/ttyUSB0']),
  dns: svc('dns', '1.1.1.1'),
  dns_opt: svc('dns_opt', ['use-vc']),
  dns_search: svc('dns_search', 'example.com'),
  domainname: svc('domainname', 'example.com'),
  entrypoint: svc('entrypoint', ['/bin/sh', '-c']),
  env_file: svc('env_file', 'app.env'),
  environment: svc('environment', { A: '1' }),
  expose: svc('expose', ['1883']),
  extends: svc('extends', { service: 'other' }),
  external_links: svc('external_links', ['redis']),
  extra_hosts: svc('extra_hosts', ['host.docker.internal:host-gateway']),
  gpus: svc('gpus', 'all'),
  group_add: svc('group_add', ['dialout']),
  healthcheck: svc('healthcheck', { test: ['CMD', 'true'], interval: '5s' }),
  hostname: svc('hostname', 'broker'),
  image: svc('image', 'example/other:2'),
  init: svc('init', true),
  ipc: svc('ipc', 'host'),
  isolation: svc('isolation', 'process'),
  label_file: svc('label_file', 'app.labels'),
  labels: svc('labels', { a: 'b' }),
  links: svc('links', ['other:db']),
  logging: svc('logging', { driver: 'json-file', options: { 'max-size': '10m' } }),
  mac_address: svc('mac_address', '02:42:ac:11:65:43'),
  mem_limit: svc('mem_limit', '128m'),
  mem_reservation: svc('mem_reservation', '64m'),
  mem_swappiness: svc('mem_swappiness', 10),
  memswap_limit: svc('memswap_limit', '256m'),
  models: svc('models', ['llm']),
  network_mode: svc('network_mode', 'host'),
  networks: { service: { networks: { back: { aliases: ['db'] } } }, top: { networks: { back: {} } } },
  oom_kill_disable: svc('oom_kill_disable', true),
  oom_score_adj: svc('oom_score_adj', 500),
  pid: svc('pid', 'host'),
  pids_limit: svc('pids_limit', 100),
  platform: svc('platform', 'linux/arm64'),
  ports: svc('ports', ['1883:1883']),
  post_start: svc('post_start', [{ command: 'true' }]),
  pre_stop: svc('pre_stop', [{ command: 'true' }]),
  privileged: svc('privileged', true),
  profiles: svc('profiles', ['debug']),
  provider: svc('provider', { type: 'x' }),
  pull_policy: svc('pull_policy', 'always'),
  pull_refresh_after: svc('pull_refresh_after', '1h'),
  read_only: svc('read_only', true),
  restart: svc('restart', 'on-failure:5'),
  runtime: svc('runtime', 'runc'),
  scale: svc('scale', 2),
  secrets: { service: { secrets: ['token'] }, top: { secrets: { token: { environment: 'TOKEN' } } } },
  security_opt: svc('security_opt', ['no-new-privileges:true']),
  shm_size: svc('shm_size', '64m'),
  stdin_open: svc('stdin_open', true),
  stop_grace_period: svc('stop_grace_period', '1m30s'),
  stop_signal: svc('stop_signal', 'SIGINT'),
  storage_opt: svc('storage_opt', { size: '1G' }),
  sysctls: svc('sysctls', ['net.core.somaxconn=1024']),
  tmpfs: svc('tmpfs', ['/run']),
  tty: svc('tty', true),
  ulimits: svc('ulimits', { nofile: { soft: 20000, hard: 40000 } }),
  use_api_socket: svc('use_api_socket', true),
  user: svc('user', '1000:1000'),
  userns_mode: svc('userns_mode', 'host'),
  uts: svc('uts', 'host'),
  volumes: {
    service: { volumes: ['data:/data', './mosquitto.conf:/mosquitto/config/mosquitto.conf:ro'] },
    top: { volumes: { data: {} } },
  },
  volumes_from: svc('volumes_from', ['other']),
  working_dir: svc('working_dir', '/srv'),
};

const dep = (k: string, v: unknown): Sample => svc('deploy', { [k]: v });
const DEPLOY: Record<string, Sample> = {
  mode: dep('mode', 'replicated-job'),
  replicas: dep('replicas', 3),
  resources: dep('resources', { limits: { cpus: '0.5', memory: '64m', pids: 50 }, reservations: { memory: '32m' } }),
  restart_policy: dep('restart_policy', { condition: 'on-failure', max_attempts: 3 }),
  update_config: dep('update_config', { order: 'stop-first' }),
  labels: dep('labels', { a: 'b' }),
  endpoint_mode: dep('endpoint_mode', 'dnsrr'),
  placement: dep('placement', { constraints: ['node.role==manager'] }),
  rollback_config: dep('rollback_config', { parallelism: 1 }),
};

const net = (v: Doc): Sample => ({ top: { networks: { default: v } } });
const NETWORK: Record<string, Sample> = {
  name: net({ name: 'iot' }),
  driver: net({ driver: 'macvlan' }),
  driver_opts: net({ driver_opts: { 'com.docker.network.bridge.name': 'br-iot' } }),
  ipam: net({ ipam: { config: [{ subnet: '172.28.0.0/24' }] } }),
  external: net({ external: true }),
  internal: net({ internal: true }),
  enable_ipv4: net({ enable_ipv4: false }),
  enable_ipv6: net({ enable_ipv6: true }),
  attachable: net({ attachable: true }),
  labels: net({ labels: { a: 'b' } }),
};

const vol = (v: Doc): Sample => ({ service: { volumes: ['data:/data'] }, top: { volumes: { data: v } } });
const VOLUME: Record<string, Sample> = {
  name: vol({ name: 'influx-data' }),
  driver: vol({ driver: 'local-persist' }),
  driver_opts: vol({ driver_opts: { type: 'tmpfs', device: 'tmpfs' } }),
  external: vol({ external: true }),
  labels: vol({ labels: { a: 'b' } }),
};

const cfg = (v: Doc): Sample => ({
  service: { configs: ['c'] },
  top: { configs: { c: { file: './mosquitto.conf', ...v } } },
});
const CONFIG: Record<string, Sample> = {
  file: { service: { configs: ['c'] }, top: { configs: { c: { file: './mosquitto.conf' } } } },
  content: { service: { configs: ['c'] }, top: { configs: { c: { content: 'listener 1883' } } } },
  environment: { service: { configs: ['c'] }, top: { configs: { c: { environment: 'TOKEN' } } } },
  name: cfg({ name: 'broker-config' }),
  labels: cfg({ labels: { a: 'b' } }),
  external: cfg({ external: true }),
  template_driver: cfg({ template_driver: 'golang' }),
};

const sec = (v: Doc): Sample => ({
  service: { secrets: ['s'] },
  top: { secrets: { s: { file: './token.txt', ...v } } },
});
const SECRET: Record<string, Sample> = {
  file: { service: { secrets: ['s'] }, top: { secrets: { s: { file: './token.txt' } } } },
  environment: { service: { secrets: ['s'] }, top: { secrets: { s: { environment: 'TOKEN' } } } },
  name: sec({ name: 'api-token' }),
  labels: sec({ labels: { a: 'b' } }),
  external: sec({ external: true }),
  driver: sec({ driver: 'vault' }),
  driver_opts: sec({ driver_opts: { a: 'b' } }),
  template_driver: sec({ template_driver: 'golang' }),
};

const TOP: Record<string, Sample> = {
  version: { top: { version: '3.8' } },
  name: { top: { name: 'home', volumes: { data: {} } }, service: { volumes: ['data:/data'] } },
  include: { top: { include: ['other.yaml'] } },
  services: { top: { services: { extra: { image: 'example/extra:1' } } } },
  networks: NETWORK['internal']!,
  volumes: { top: { volumes: { data: {} } }, service: { volumes: ['data:/data'] } },
  configs: CONFIG['content']!,
  secrets: SECRET['environment']!,
  models: { top: { models: { llm: { model: 'ai/smollm2' } } } },
};

type Outcome = { kind: 'refused' | 'warned' | 'honoured' | 'nothing'; detail: string };

describe('every key of the Compose specification is honoured, refused or warned about', () => {
  const root = tempDir('rollgate-spec-');
  after(() => cleanup(root));
  let n = 0;

  async function load(sample: Sample): Promise<DesiredState | FleetRepoError> {
    const dir = join(root, `r${n++}`);
    mkdirSync(join(dir, 'app'), { recursive: true });
    writeFileSync(join(dir, 'app/mosquitto.conf'), 'listener 1883\n');
    writeFileSync(join(dir, 'app/token.txt'), 's3cret\n');
    writeFileSync(join(dir, 'app/app.env'), 'LOG=debug\n');
    writeFileSync(join(dir, 'app/app.labels'), 'team=edge\n');
    const top = sample.top ?? {};
    const doc: Doc = {
      ...top,
      services: {
        svc: { image: 'example/svc:1', ...(sample.service ?? {}) },
        other: { image: 'example/other:1' },
        ...((top['services'] as Doc | undefined) ?? {}),
      },
    };
    writeFileSync(join(dir, 'app/compose.yaml'), stringify(doc));
    writeFileSync(
      join(dir, 'rollgate.yaml'),
      'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  s: { apps: { app: app/compose.yaml } }\ntargets:\n  - ' +
        '{ name: all, match: { any: true }, system: s, variables: { TOKEN: t0ken } }\n',
    );
    try {
      return await loadDesiredState(new DirectorySource(dir), { id: 'gw', labels: {} });
    } catch (err) {
      if (err instanceof FleetRepoError) return err;
      throw err;
    }
  }

  /** The container request of every service and the plan: what "honoured" has to change. */
  function effect(d: DesiredState): string {
    const app = d.apps[0]!;
    const specs = app.services.map((s) =>
      containerSpec(
        { app: app.name, service: s.name, configHash: 'h', txn: 't' },
        s.config,
        undefined,
        hostPaths('/state'),
      ),
    );
    const p = plan(d, { ...emptyObservedState(), images: ['example/svc:1', 'example/other:1'] });
    // Configuration hashes change with any key at all: they are left out, so only real effects count.
    const noHashes = (k: string, v: unknown) => (k === 'to' || k === 'from' ? undefined : v);
    return JSON.stringify(
      {
        specs,
        networks: app.networks,
        volumes: app.volumes,
        prepare: p.prepare,
        stages: p.stages,
        services: app.services.map((s) => [s.name, s.updateOrder, s.pullPolicy]),
      },
      noHashes,
    );
  }

  async function outcome(key: string, sample: Sample, baseline: string): Promise<Outcome> {
    const d = await load(sample);
    const named = new RegExp(`"?${key.replace('.', '\\.')}"?`);
    if (d instanceof FleetRepoError) {
      const hit = d.problems.find((p) => named.test(p.message));
      return { kind: hit ? 'refused' : 'nothing', detail: d.problems.map((p) => p.message).join(' | ') };
    }
    const warned = d.warnings?.find(
      (w) => w.includes(`"${key}" is accepted and has no effect`) || w.includes(`${key} is accepted and has no effect`),
    );
    if (warned) return { kind: 'warned', detail: warned };
    const e = effect(d);
    return {
      kind: e !== baseline ? 'honoured' : 'nothing',
      detail: 'the container request and the plan are the same as without the key',
    };
  }

  const tables: [string, Record<string, unknown>, Record<string, Sample>, string][] = [
    ['top level', spec.properties, TOP, ''],
    ['service', spec.definitions['service']!.properties, SERVICE, ''],
    ['deploy', spec.definitions['deployment']!.properties, DEPLOY, 'deploy.'],
    ['network', spec.definitions['network']!.properties, NETWORK, ''],
    ['volume', spec.definitions['volume']!.properties, VOLUME, ''],
    ['config', spec.definitions['config']!.properties, CONFIG, ''],
    ['secret', spec.definitions['secret']!.properties, SECRET, ''],
  ];
  for (const [where, keys, samples, prefix] of tables) {
    test(`${where}: ${Object.keys(keys).length} keys`, async () => {
      const base = await load({});
      assert.ok(!(base instanceof FleetRepoError), base instanceof FleetRepoError ? base.message : '');
      const baseline = effect(base);
      const seen: Record<string, string> = {};
      for (const key of Object.keys(keys)) {
        const sample = samples[key];
        assert.ok(sample, `the Compose specification has ${where} key "${key}": add a sample of it to this test`);
        const o = await outcome(
          `${prefix}${key}`.replace(/^deploy\.(.*)$/, (_, k: string) =>
            ['labels', 'endpoint_mode', 'placement', 'rollback_config', 'replicas', 'mode'].includes(k)
              ? `deploy.${k}`
              : k,
          ),
          sample,
          baseline,
        );
        assert.notEqual(o.kind, 'nothing', `${where} key "${key}" is silently ignored: ${o.detail}`);
        seen[key] = o.kind;
      }
      // Keys that must be honoured on a gateway are, not merely refused.
      const mustHonour: Record<string, string[]> = {
        service: [
          'container_name',
          'configs',
          'secrets',
          'volumes',
          'environment',
          'env_file',
          'mem_limit',
          'cpus',
          'pids_limit',
          'restart',
          'ports',
          'expose',
          'links',
          'tty',
          'stdin_open',
          'shm_size',
          'sysctls',
          'security_opt',
          'ulimits',
          'extra_hosts',
          'dns',
          'hostname',
          'working_dir',
          'read_only',
          'pid',
          'ipc',
          'platform',
          'runtime',
          'memswap_limit',
          'pull_policy',
          'deploy',
          'profiles',
        ],
        deploy: ['resources', 'restart_policy', 'update_config'],
        network: ['name', 'external', 'internal', 'ipam', 'driver'],
        volume: ['name', 'external', 'driver'],
        'top level': ['name', 'configs', 'secrets'],
      };
      for (const k of mustHonour[where] ?? []) assert.equal(seen[k], 'honoured', `${where} key "${k}" is honoured`);
    });
  }
});
