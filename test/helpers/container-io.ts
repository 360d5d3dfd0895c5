// Reaching into containers from tests and benchmarks: a command's output, a page, and a probe
// that asks a service by name the way a real client does.

import type Docker from 'dockerode';

/** Output of a command run inside a container (TTY mode: one plain stream). */
export async function exec(docker: Docker, id: string, cmd: string[]): Promise<string> {
  const e = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, Tty: true });
  const stream = await e.start({ hijack: true, stdin: false, Tty: true });
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  await new Promise((r) => stream.on('end', r));
  return Buffer.concat(chunks).toString().replace(/\r\n/g, '\n').trim(); // a TTY ends lines with CRLF
}

export async function httpText(port: number): Promise<string> {
  return (await (await fetch(`http://127.0.0.1:${port}/`)).text()).trim();
}

/**
 * A Compose `command:` (indented for a service) that asks `service` on port 8080 about 20 times a
 * second, as curl or Go's net/http would: look the name up each time, try the addresses in turn.
 * It prints `ok`, or why it failed: FAIL-refused (addresses, none answered), FAIL-nxdomain (no
 * container by that name), FAIL-dns-timeout. busybox-static's wget crashes outside loopback
 * (static glibc), so nslookup and nc do the work.
 */
export function probeCommand(service: string): string {
  return (
    `    command:
      - sh
      - -c
      - |
        while true; do
          answer=$$(nslookup ${service} 2>&1)
          ips=$$(echo "$$answer" | sed -n 's/^Address: *\\([0-9.]*\\)$$/\\1/p')
          if [ -n "$$ips" ]; then ok=FAIL-refused; elif echo "$$answer" | grep -q NXDOMAIN; then ` +
    `ok=FAIL-nxdomain; else ok=FAIL-dns-timeout; fi
          for ip in $$ips; do
            if printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 "$$ip" 8080 | grep -q version; then ok=ok; break; fi
          done
          echo "$$ok"
          sleep 0.02
        done
`
  );
}
