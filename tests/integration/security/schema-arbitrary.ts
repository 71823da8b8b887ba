import fc from 'fast-check';

/**
 * fast-check arbitraries derived from the OpenAPI document's JSON Schemas (what the zod
 * schemas become): mostly values of the right shape, mixed at every level with hostile ones
 * (NUL, lone surrogates, huge and negative numbers, wrong types, unknown enum values, odd
 * dates, traversal), so a request gets past the outer checks and trips an inner one.
 */
export type JsonSchema = {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  [key: string]: unknown;
};

const deepArray = (depth: number): unknown => {
  let value: unknown = [];
  for (let i = 0; i < depth; i++) value = [value];
  return value;
};

/** Scalars and shapes that have broken services before. */
export const hostileScalar: fc.Arbitrary<unknown> = fc.constantFrom<unknown>(
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '',
  ' ',
  '\u202e\u2066',
  '9'.repeat(400),
  '99999999999999999999',
  '-1',
  'NaN',
  'Infinity',
  '1e400',
  '-271821-04-20T00:00:00.000Z',
  '+275760-09-13T00:00:00.000Z',
  '99999-01-01T00:00:00Z',
  '0000-00-00',
  '../../../../etc/passwd',
  '..%2F..%2Fetc%2Fpasswd',
  '%00',
  "'; drop table tickets; --",
  '${jndi:ldap://x}',
  '<script>alert(1)</script>',
  'x'.repeat(5_000),
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  0,
  -1,
  -0,
  1.5,
  2 ** 31,
  2 ** 53 + 2,
  1e21,
  1e308,
  -1e308,
  Number.MIN_VALUE,
  true,
  false,
  null,
  [],
  {},
  [null],
  { __proto__: { polluted: true } },
  JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}'),
  deepArray(200),
);

const isoDate = fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString());

/**
 * hostileWeight: how often (out of 5 + hostileWeight) a value anywhere in the document is a
 * hostile one instead of one of the schema's shape; 0 gives clean values that mostly pass
 * validation and reach the handlers.
 */
export function createSchemaArbitraries(components: Record<string, JsonSchema>, options: { hostileWeight: number }) {
  const resolve = (schema: JsonSchema): JsonSchema => {
    if (!schema.$ref) return schema;
    const name = schema.$ref.split('/').pop()!;
    return components[name] ?? {};
  };

  /** A value of the schema's shape (hostile values mixed in below the top). */
  function shaped(input: JsonSchema, depth: number): fc.Arbitrary<unknown> {
    const schema = resolve(input);
    if (depth > 6) return options.hostileWeight ? hostileScalar : fc.constant(null);
    const variants = schema.anyOf ?? schema.oneOf;
    if (variants?.length) return fc.oneof(...variants.map((s) => value(s, depth + 1)));
    if (schema.allOf?.length) return value(schema.allOf[0]!, depth + 1);
    if (schema.const !== undefined) return fc.constant(schema.const);
    if (schema.enum) {
      const members = fc.constantFrom(...schema.enum);
      return options.hostileWeight ? fc.oneof(members, fc.constantFrom('not-a-member', 'OPEN', ' open', 'open\u0000')) : members;
    }
    const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
    switch (type) {
      case 'string':
        switch (schema.format) {
          case 'uuid':
            return fc.uuid();
          case 'date-time':
            return isoDate;
          case 'email':
            return options.hostileWeight ? fc.emailAddress() : fc.stringMatching(/^[a-z]{1,10}\.?[a-z0-9]{0,5}@[a-z]{2,8}\.(com|org|co\.il)$/);
          case 'uri':
            return fc.webUrl();
          default:
            if (typeof schema.pattern === 'string' && !options.hostileWeight) return fc.stringMatching(new RegExp(schema.pattern)).filter((v) => v.length <= (schema.maxLength ?? 200));
            return fc.string({ minLength: Math.min(schema.minLength ?? 0, 20), maxLength: Math.max(Math.min(schema.maxLength ?? 40, 60), Math.min(schema.minLength ?? 0, 20)), unit: options.hostileWeight ? 'binary' : 'grapheme-ascii' });
        }
      case 'integer':
      {
        const min = Math.max(schema.minimum ?? (typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum + 1 : -1e6), -1e9);
        const max = Math.min(schema.maximum ?? (typeof schema.exclusiveMaximum === 'number' ? schema.exclusiveMaximum - 1 : 1e6), 1e9);
        const inRange = fc.integer({ min, max: Math.max(min, max) });
        return options.hostileWeight ? fc.oneof(inRange, fc.constantFrom(0, 1, 2 ** 53, -(2 ** 53))) : inRange;
      }
      case 'number':
      {
        const lower = schema.minimum ?? (typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum : -1e12);
        const upper = schema.maximum ?? (typeof schema.exclusiveMaximum === 'number' ? schema.exclusiveMaximum : 1e12);
        return fc.double({ noNaN: true, noDefaultInfinity: true, min: lower, max: Math.max(lower, upper), minExcluded: schema.minimum === undefined, maxExcluded: schema.maximum === undefined });
      }
      case 'boolean':
        return fc.boolean();
      case 'null':
        return fc.constant(null);
      case 'array':
        return fc.array(value(schema.items ?? {}, depth + 1), { maxLength: 3 });
      case 'object': {
        const properties = schema.properties ?? {};
        const required = new Set(schema.required ?? []);
        const model: Record<string, fc.Arbitrary<unknown>> = {};
        for (const [name, property] of Object.entries(properties)) model[name] = value(property, depth + 1);
        const requiredKeys = Object.keys(model).filter((k) => required.has(k));
        const record = fc.record(model, { requiredKeys });
        // Sometimes a key the schema does not know.
        return options.hostileWeight ? fc.oneof({ weight: 4, arbitrary: record }, { weight: 1, arbitrary: record.map((r) => ({ ...r, unexpected: 'x' })) }) : record;
      }
      default:
        return fc.jsonValue({ maxDepth: 2 });
    }
  }

  /** Mostly shaped, sometimes hostile: at every level of the document. */
  function value(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
    if (options.hostileWeight === 0) return shaped(schema, depth);
    return fc.oneof({ weight: 5, arbitrary: shaped(schema, depth) }, { weight: options.hostileWeight, arbitrary: hostileScalar });
  }

  return { value, shaped, resolve };
}

/** Query and path values are strings on the wire. */
export function wireString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return '';
  if (Array.isArray(value)) return value.map(wireString).join(',');
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Cursors that look like ours but are not. */
export const hostileCursor: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('garbage', '%00', '', 'e30', 'W10', 'bnVsbA'),
  fc.record({ v: hostileScalar, id: hostileScalar }).map((key) => Buffer.from(JSON.stringify(key)).toString('base64url')),
  fc.string({ maxLength: 60 }).map((s) => Buffer.from(s).toString('base64url')),
);

/** Raw bodies that are not the JSON a route expects. */
export const hostileRawBody: fc.Arbitrary<{ contentType: string; body: Buffer | string }> = fc.constantFrom(
  { contentType: 'application/json', body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]) },
  { contentType: 'application/json', body: Buffer.from('{"a":"\ud800"}', 'utf16le') },
  { contentType: 'application/json', body: '{"a":' },
  { contentType: 'application/json', body: '' },
  { contentType: 'application/json', body: 'null' },
  { contentType: 'application/json', body: '"a string"' },
  { contentType: 'application/json', body: '1e999' },
  { contentType: 'application/json', body: '['.repeat(10_000) + ']'.repeat(10_000) },
  { contentType: 'application/json', body: '{"__proto__":{"admin":true}}' },
  { contentType: 'application/json; charset=utf-16', body: '{}' },
  { contentType: 'text/plain', body: 'hello' },
  { contentType: 'application/x-www-form-urlencoded', body: 'a=1&a=2&b[c]=3' },
  { contentType: 'multipart/form-data; boundary=x', body: '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--' },
  { contentType: 'application/xml', body: '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>' },
);
