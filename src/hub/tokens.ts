// Tokens: 32 random bytes, shown once, stored only as their SHA-256 (a token is random enough that
// a salt adds nothing, and a hash lets the hub find the row in one lookup). The prefix says what
// a token is for, so a token pasted in the wrong place is named as such.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type Role = 'gateway' | 'reader' | 'admin';

const PREFIX: Record<Role, string> = { gateway: 'rgw_', reader: 'rgr_', admin: 'rga_' };

export function newToken(role: Role): string {
  return PREFIX[role] + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The role a token's prefix claims; the database decides whether it is real. */
export function roleOf(token: string): Role | undefined {
  for (const [role, p] of Object.entries(PREFIX)) if (token.startsWith(p)) return role as Role;
  return undefined;
}

export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
