import { isDeepStrictEqual } from 'node:util';
import { serializerCompiler as zodSerializerCompiler } from 'fastify-type-provider-zod';

type SerializerCompiler = typeof zodSerializerCompiler;

/**
 * Response serialization. Every route declares its response schema, and outside production
 * each response is encoded through it (fastify-type-provider-zod) AND must come out exactly as
 * plain JSON.stringify would write it (up to key order): a handler may not rely on the schema to drop a field
 * (an internal column, a hash) or to transform a value. Tests run this strict mode on every
 * route they call, which is what makes production's mode safe.
 *
 * In production the response is written with JSON.stringify alone: the zod encode of a page of
 * 50 tickets with their clocks was a fifth of the CPU of a list request (CPU profile, bench).
 */
export function responseSerializerCompiler(mode: 'strict' | 'trusted'): SerializerCompiler {
  if (mode === 'trusted') return () => (data) => JSON.stringify(data);
  return (route) => {
    const encode = zodSerializerCompiler(route);
    return (data) => {
      const encoded = encode(data);
      const plain = JSON.stringify(data);
      // Key order may differ (the schema's order); fields and values may not.
      if (encoded !== plain && !isDeepStrictEqual(JSON.parse(encoded), JSON.parse(plain))) {
        throw new Error(
          `response of ${route.method} ${route.url} differs from its schema's encoding: the handler relies on the schema to drop or transform a field ` +
            `(schema: ${encoded.slice(0, 300)}; handler: ${plain.slice(0, 300)})`,
        );
      }
      return encoded;
    };
  };
}
