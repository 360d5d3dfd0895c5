// Host paths as the policy compares them: the bind mounts, devices and health commands a commit
// asks for, and the directories a policy allows.

import { posix } from 'node:path';

/**
 * A host path as the policy compares it: absolute, no `..` (the kernel resolves `..` after the
 * symlinks before it, so a lexical normalisation could be fooled), normalised (`//`, `/./`, a
 * trailing slash). A string says why it is refused.
 */
export function hostPath(raw: string): { path: string } | string {
  if (!raw.startsWith('/')) return `${JSON.stringify(raw)} is not an absolute path`;
  if (raw.split('/').includes('..')) return `${JSON.stringify(raw)} goes through ".."`;
  // No file of the host has one: the kernel would end the path there, and Node refuses to resolve it.
  if (raw.includes('\0')) return `${JSON.stringify(raw)} contains a NUL character`;
  const n = posix.normalize(raw);
  return { path: n.length > 1 ? n.replace(/\/+$/, '') : n };
}

/** Whether `path` (normalised) is one of `dirs` or under one of them. */
export function underAny(path: string, dirs: readonly string[]): boolean {
  return dirs.some((d) => {
    const dir = hostPath(d);
    if (typeof dir === 'string') return false;
    return path === dir.path || dir.path === '/' || path.startsWith(`${dir.path}/`);
  });
}
