// Under a policy: the update interfaces a commit's components may use, and the arguments the fleet
// repo may pass them.

import type { DesiredComponent } from '../model/index.js';
import type { GatewayPolicy } from './policy.js';
import { list } from './host-keys/index.js';

/** Under a policy: whether policy.interfaces names the component's interface. */
export function interfaceBreach(c: Pick<DesiredComponent, 'interface'>, p: GatewayPolicy): string | undefined {
  if (p.interfaces?.includes(c.interface)) return undefined;
  return `interface ${c.interface} is not allowed (policy.interfaces: ${list(p.interfaces)})`;
}

/** A component id as Mender's 2024 manifests pass it to the interface: a plain name, never a path or an option. */
const PLAIN_ID = /^[A-Za-z0-9_][A-Za-z0-9._:-]*$/;

/**
 * Under a policy: what the fleet repo passes an interface on its command line. An interface runs as
 * root, and the repo writes its arguments (topology interface_args, a 2024 manifest's args and
 * component id), so an allowed interface that takes a directory would write wherever a commit says.
 * Each argument must be named in policy.interfaceArgs as `interface=argument`; a component id must
 * be a plain name. One message per argument that is not.
 */
export function interfaceArgsBreaches(
  c: Pick<DesiredComponent, 'interface' | 'interfaceArgs'> & { id?: string },
  p: GatewayPolicy,
): { on: 'id' | 'args'; message: string }[] {
  const out: { on: 'id' | 'args'; message: string }[] = [];
  if (c.id !== undefined && !PLAIN_ID.test(c.id))
    out.push({
      on: 'id',
      message:
        `component id "${c.id}" is passed to interface ${c.interface} as an argument and must be a plain name ` +
        '(letters, digits, . _ : -), not a path or an option',
    });
  const allowed = new Set(p.interfaceArgs ?? []);
  for (const arg of c.interfaceArgs)
    if (!allowed.has(`${c.interface}=${arg}`))
      out.push({
        on: 'args',
        message:
          `argument "${arg}" of interface ${c.interface} is not allowed: the interface runs as root, so the ` +
          `arguments a commit gives it must be named in policy.interfaceArgs (add "${c.interface}=${arg}")`,
      });
  return out;
}
