import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { responseSerializerCompiler } from '../../../src/http/serializer.js';

const route = (schema: z.ZodType) => ({ schema, method: 'GET', url: '/v1/things', httpStatus: '200' }) as Parameters<ReturnType<typeof responseSerializerCompiler>>[0];
const schema = z.object({ id: z.string(), at: z.date(), tags: z.array(z.string()) });

describe('responseSerializerCompiler', () => {
  it('strict: writes a response that matches its schema, whatever the key order', () => {
    const serialize = responseSerializerCompiler('strict')(route(schema));
    const at = new Date('2026-12-04T10:00:00Z');
    expect(JSON.parse(serialize({ tags: ['a'], at, id: 'x' }))).toEqual({ id: 'x', at: at.toISOString(), tags: ['a'] });
  });

  it('strict: refuses a response that relies on the schema to drop a field', () => {
    const serialize = responseSerializerCompiler('strict')(route(schema));
    expect(() => serialize({ id: 'x', at: new Date(), tags: [], keyHash: 'secret' })).toThrow(/GET \/v1\/things differs from its schema/);
  });

  it('strict: refuses a response the schema rejects', () => {
    const serialize = responseSerializerCompiler('strict')(route(schema));
    expect(() => serialize({ id: 1, at: new Date(), tags: [] })).toThrow();
  });

  it('trusted: writes the handler’s object as JSON, without a schema pass', () => {
    const serialize = responseSerializerCompiler('trusted')(route(schema));
    expect(serialize({ id: 'x', extra: 1 })).toBe('{"id":"x","extra":1}');
  });
});
