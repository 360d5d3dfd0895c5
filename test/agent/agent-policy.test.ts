// The agent under a gateway policy runs health command checks as nobody. The policy names the
// programs, but their arguments are the fleet repo's: with `healthCommands: [curl]` (the README's
// own example), `curl --unix-socket /var/run/docker.sock -d '{"HostConfig":{"Privileged":true}}'`
// made a privileged container, and `curl -o` wrote any file, as root. A real agent process, a
// real git repository and a simulated device behind its real interface; the check reads
// /etc/shadow, which only root can.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { AgentProcess } from '../helpers/agent-process.js';
import { DeviceLab, requireMenderTools } from '../helpers/devices.js';
import { run } from '../helpers/fixtures.js';

const missing = requireMenderTools();
const asRoot = process.getuid?.() === 0;

describe(
  'the agent under a policy: health commands run as nobody',
  {
    skip: missing ?? (asRoot ? false : 'needs root (the agent runs as root on a gateway, and drops to nobody from it)'),
  },
  () => {
    const labs: DeviceLab[] = [];
    const agents: AgentProcess[] = [];
    after(async () => {
      for (const a of agents) await a.kill();
      for (const l of labs) l.close();
    });

    /** One RTOS device on v1; a commit that updates it to v2 behind a check only root passes. */
    function lab(): { lab: DeviceLab; commit: string } {
      const l = new DeviceLab([{ id: 'R1', type: 'rtos', iface: 'rtos', order: 10 }]);
      labs.push(l);
      l.seed((t) => `${t}-v1`);
      l.writeRepo((t) => l.artifact(t, `${t}-v2`));
      const fleet = join(l.repo, 'rollgate.yaml');
      writeFileSync(
        fleet,
        readFileSync(fleet, 'utf8').replace('    manifest: manifest.yaml\n', '$&    health: health.yaml\n'),
      );
      writeFileSync(
        join(l.repo, 'health.yaml'),
        'apiVersion: rollgate/v1\nkind: Health\nwindow: 300ms\ndeadline: 20s\n' +
          'defaults: { interval: 100ms, timeout: 5s, failureThreshold: 1 }\n' +
          'checks:\n  - name: as-root\n    command: { argv: [cat, /etc/shadow] }\n',
      );
      run('git', ['init', '-q', '-b', 'main'], l.repo);
      run('git', ['add', '-A'], l.repo);
      run('git', ['commit', '-q', '-m', 'rtos v2, checked as root'], l.repo);
      return { lab: l, commit: run('git', ['rev-parse', 'HEAD'], l.repo) };
    }
    const agent = (l: DeviceLab, ...policy: string[]) => {
      const a = new AgentProcess(
        l.stateDir,
        [
          ...l.gatewayArgs(),
          '--ref',
          'main',
          '--interval',
          '1h',
          '--jitter',
          '0s',
          '--policy-interface',
          'rtos',
          ...l.policyInterfaceArgs(),
          '--policy-health-command',
          'cat',
          ...policy,
        ],
        { ROLLGATE_BOOT_ID_FILE: l.bootIdFile },
      );
      agents.push(a);
      return a;
    };

    test('healthCommands: [cat] runs cat as nobody: /etc/shadow is out of reach, so the commit is bad', async () => {
      const { lab: l, commit } = lab();
      const a = agent(l);
      const s = await a.until('the commit judged', (x) => x.lastAttempted?.commit === commit);
      const bad = s.bad.find((b) => b.commit === commit)!;
      assert.equal(bad.kind, 'health-failed', a.text());
      assert.match(bad.reason, /cat \/etc\/shadow exited 1.*Permission denied/);
      assert.equal(s.lastGood, undefined, 'never the last good commit');
      assert.deepEqual(l.running(), { R1: 'rtos-v1' }, 'the device was rolled back');
    });

    test('policy.allowRootHealthCommands: true runs it as root, as the owner chose', async () => {
      const { lab: l, commit } = lab();
      const a = agent(l, '--policy-allow-root-health-commands');
      const s = await a.until('the commit applied', (x) => x.lastGood?.commit === commit);
      assert.deepEqual(s.bad, [], a.text());
      assert.deepEqual(l.running(), { R1: 'rtos-v2' });
    });
  },
);
