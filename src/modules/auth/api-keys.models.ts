import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const ROLES = ['admin', 'supervisor', 'agent', 'integration'] as const;
export type Role = (typeof ROLES)[number];

/** Who may call what. Staff roles nest (admin ⊇ supervisor ⊇ agent); integration stands apart. */
export const STAFF: readonly Role[] = ['agent', 'supervisor', 'admin'];
export const MANAGERS: readonly Role[] = ['supervisor', 'admin'];
export const ADMINS: readonly Role[] = ['admin'];
export const STAFF_AND_INTEGRATIONS: readonly Role[] = [...STAFF, 'integration'];

/** The row that ADMIN_API_KEY maps to: its secret has no "cdk_" shape to carry a prefix. */
export const ENV_ADMIN_PREFIX = 'env-admin';

const KEY_PATTERN = /^cdk_([0-9a-f]{12})_([A-Za-z0-9_-]{32,})$/;

export interface ParsedKey {
  prefix: string;
  secret: string;
}

export function parseKey(token: string): ParsedKey {
  const match = KEY_PATTERN.exec(token);
  if (match?.[1] && match[2]) return { prefix: match[1], secret: match[2] };
  return { prefix: ENV_ADMIN_PREFIX, secret: token };
}

export function generateKey(): { token: string; prefix: string; secret: string } {
  const prefix = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { token: `cdk_${prefix}_${secret}`, prefix, secret };
}

export function hashSecret(secret: string, salt: string): string {
  return createHash('sha256').update(salt).update('\0').update(secret).digest('hex');
}

export function newSalt(): string {
  return randomBytes(16).toString('hex');
}

/** Constant-time: both sides are fixed-length hex digests. */
export function secretMatches(secret: string, salt: string, storedHash: string): boolean {
  const computed = Buffer.from(hashSecret(secret, salt), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return computed.length === stored.length && timingSafeEqual(computed, stored);
}
