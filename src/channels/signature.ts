import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { z } from 'zod';
import { InvalidPayloadError } from './channel.errors.js';

/**
 * Constant-time comparison of a computed signature with the one a provider sent.
 *
 * Both sides are hashed first so the buffers handed to timingSafeEqual always have the same
 * length: a raw length check would throw (timingSafeEqual does) or leak the expected length.
 * Never throws; a missing or empty header is simply not equal.
 */
export function hmacEquals(expected: Buffer | string, given: string | undefined): boolean {
  if (given === undefined || given.length === 0) return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given, 'utf8').digest();
  return timingSafeEqual(a, b);
}

export function hmacDigest(
  algorithm: 'sha1' | 'sha256',
  key: string,
  data: Buffer | string,
  encoding: 'hex' | 'base64',
): string {
  return createHmac(algorithm, key).update(data).digest(encoding);
}

/**
 * The part of a "<scheme>=<value>" header after the prefix, or undefined when the prefix is
 * absent. Headers often arrive as string[] from Node when repeated; callers pass one value.
 */
export function stripSignaturePrefix(header: string | undefined, prefix: string): string | undefined {
  if (header === undefined) return undefined;
  const trimmed = header.trim();
  return trimmed.startsWith(prefix) ? trimmed.slice(prefix.length) : undefined;
}

/**
 * Formats a zod issue path the way InvalidPayloadError names fields:
 * ["entry", 0, "messaging", 1, "sender", "id"] → "entry[0].messaging[1].sender.id".
 * Lives here because every adapter validates its payload and must name the field the same way.
 */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_$][\w$]*$/.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out || '(root)';
}

/**
 * Validates a provider payload, turning the first zod issue into an InvalidPayloadError.
 * `basePath` prefixes the field when a nested part is validated on its own.
 */
export function parsePayload<S extends z.ZodType>(schema: S, body: unknown, basePath = ''): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const relative = issue && issue.path.length > 0 ? formatFieldPath(issue.path) : '';
  const field = !basePath ? relative || '(root)' : !relative ? basePath : relative.startsWith('[') ? basePath + relative : `${basePath}.${relative}`;
  throw new InvalidPayloadError(field, `${field}: ${issue?.message ?? 'invalid payload'}`);
}
