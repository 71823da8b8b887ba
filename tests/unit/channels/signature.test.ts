import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidPayloadError } from '../../../src/channels/channel.errors.js';
import { formatFieldPath, hmacEquals, parsePayload, stripSignaturePrefix } from '../../../src/channels/signature.js';

describe('hmacEquals', () => {
  it('compares without throwing on any length', () => {
    expect(hmacEquals('abc', 'abc')).toBe(true);
    expect(hmacEquals(Buffer.from('abc'), 'abc')).toBe(true);
    expect(hmacEquals('abc', 'abcd')).toBe(false);
    expect(hmacEquals('abc', 'x'.repeat(10_000))).toBe(false);
    expect(hmacEquals('abc', undefined)).toBe(false);
    expect(hmacEquals('', '')).toBe(false);
  });
});

describe('stripSignaturePrefix', () => {
  it('returns what follows the scheme, or undefined', () => {
    expect(stripSignaturePrefix(' sha256=abc ', 'sha256=')).toBe('abc');
    expect(stripSignaturePrefix('sha1=abc', 'sha256=')).toBeUndefined();
    expect(stripSignaturePrefix(undefined, 'sha256=')).toBeUndefined();
  });
});

describe('formatFieldPath / parsePayload', () => {
  it('formats zod paths like entry[0].messaging[1].sender.id', () => {
    expect(formatFieldPath(['entry', 0, 'messaging', 1, 'sender', 'id'])).toBe('entry[0].messaging[1].sender.id');
    expect(formatFieldPath(['users', '123', 'name'])).toBe('users["123"].name');
    expect(formatFieldPath([])).toBe('(root)');
  });

  it('throws InvalidPayloadError with the prefixed field', () => {
    const schema = z.object({ a: z.array(z.object({ b: z.string() })) });
    expect(parsePayload(schema, { a: [{ b: 'x' }] })).toEqual({ a: [{ b: 'x' }] });
    try {
      parsePayload(schema, { a: [{ b: 1 }] }, 'entry[2].value');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidPayloadError);
      expect((err as InvalidPayloadError).field).toBe('entry[2].value.a[0].b');
      expect((err as InvalidPayloadError).message).toMatch(/^entry\[2\]\.value\.a\[0\]\.b: /);
    }
  });
});
