import type { App } from './types.js';
import { publishEventSchemas } from '../modules/events/events.openapi.js';

export const OPENAPI_PATH = new URL('../../openapi/openapi.json', import.meta.url);

/** The OpenAPI document as checked in: stable key order from the routes, 2-space JSON. */
export function renderOpenApi(app: App): string {
  return `${JSON.stringify(app.swagger(), null, 2)}\n`;
}

/*
 * The routes describe their schemas; what every operation has in common (ids, problem answers,
 * headers, security of public routes, names of answers) is filled in here, once, so that
 * generators (openapi-typescript), validators (swagger-parser, redocly) and people reading
 * /docs see the API as it answers, and a new route gets it all without writing it.
 */

type Json = Record<string, unknown>;
interface Parameter extends Json {
  name: string;
  in: string;
  description?: string;
  schema?: Json;
}
interface Response extends Json {
  description?: string;
  headers?: Json;
  content?: Record<string, { schema?: Json }>;
}
interface Operation extends Json {
  operationId?: string;
  summary?: string;
  description?: string;
  parameters?: Parameter[];
  security?: unknown[];
  responses?: Record<string, Response>;
}
export interface OpenApiDocument extends Json {
  servers?: { url: string; description?: string }[];
  components?: { schemas?: Json; headers?: Json; securitySchemes?: Json } & Json;
  paths?: Record<string, Record<string, Operation>>;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const PROBLEM_REF = '#/components/schemas/Problem';

/** What an answer means, by status, when the route does not say more. */
const STATUS_MEANINGS: Record<string, string> = {
  '200': 'Success',
  '201': 'Created',
  '202': 'Accepted: the work is queued',
  '204': 'Done; no content',
  '304': 'Not modified since the ETag sent in If-None-Match',
  '400': 'Invalid request: errors[].field names the part of the request at fault',
  '401': 'Missing or invalid credentials',
  '403': "The credentials' role may not do this",
  '404': 'No such resource',
  '405': 'Method not allowed on this path (see the Allow header)',
  '406': 'Not acceptable',
  '409': 'Conflicts with the current state (or a request with the same Idempotency-Key is in progress)',
  '410': 'Gone: used or expired',
  '412': 'Precondition failed: the If-Match version is stale',
  '413': 'Body too large',
  '415': 'Unsupported media type',
  '422': 'Unprocessable: the payload is well-formed but cannot be used (or an Idempotency-Key was reused with another body)',
  '428': 'Precondition required: send If-Match',
  '429': 'Too many requests: wait Retry-After seconds',
  '500': 'Internal error',
  '502': 'An outside service this answer needs (the OIDC provider) failed or cannot be reached',
  '503': 'A dependency (Postgres, Redis) or the channel is unavailable: retry after Retry-After seconds',
};

/** Headers documented once under components.headers and referenced by the answers that carry them. */
const HEADERS: Record<string, { description: string; schema: Json }> = {
  ETag: { description: 'The version of the resource, for If-Match on the next change (optimistic concurrency)', schema: { type: 'string' } },
  Location: { description: 'The URL of the created resource', schema: { type: 'string' } },
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 0 } },
  'X-RateLimit-Limit': { description: 'Requests allowed per minute for this key (when rate limiting is on)', schema: { type: 'integer', minimum: 0 } },
  'X-RateLimit-Remaining': { description: 'Requests left in the current minute', schema: { type: 'integer', minimum: 0 } },
  'X-RateLimit-Reset': { description: 'Seconds until the budget is renewed', schema: { type: 'integer', minimum: 0 } },
  'X-Request-Id': { description: 'The request id (sent by the client in X-Request-Id, or generated); also in problem bodies as requestId', schema: { type: 'string' } },
  'WWW-Authenticate': { description: 'The authentication scheme expected: Bearer', schema: { type: 'string' } },
  'Idempotent-Replayed': { description: 'true when this answer is the stored answer of an earlier request with the same Idempotency-Key', schema: { type: 'string', enum: ['true'] } },
};

const headerRef = (name: keyof typeof HEADERS) => ({ $ref: `#/components/headers/${name}` });

/** Answers that carry an ETag or a Location, by operation ("METHOD /path"). */
const ETAG_OPERATIONS = new Set([
  'post /v1/tickets',
  'get /v1/tickets/{id}',
  'patch /v1/tickets/{id}',
  'post /v1/sla/policies',
  'get /v1/sla/policies/{id}',
  'put /v1/sla/policies/{id}',
  'post /v1/calendars',
  'get /v1/calendars/{id}',
  'put /v1/calendars/{id}',
]);
const LOCATION_OPERATIONS = new Set(['post /v1/tickets']);
/** Server-sent event streams: their 200 is text/event-stream, not JSON. */
/** Answers that are not JSON and that the route leaves undeclared (Twilio reads TwiML). */
const FIXED_CONTENT_TYPES: Record<string, string> = { 'post /webhooks/phone/twilio': 'text/xml', 'get /auth/oidc/callback': 'text/html' };
const EVENT_STREAM_OPERATIONS = new Set(['get /v1/sla/stream', 'get /v1/me/stream', 'get /v1/events/stream']);

const PARAMETER_DESCRIPTIONS: Record<string, string> = {
  'header if-match': 'The version you read, as "<version>" (the ETag): the change applies only if it is still current',
  'header if-none-match': 'The ETag you hold: answered 304 when unchanged',
  'header last-event-id': 'Resume the stream after this event id (EventSource sends it on reconnect)',
  'header idempotency-key':
    'A unique key (1-255 printable characters) for this request: a retry with the same key and body within 24 h answers the first answer without doing the work again',
  'query cursor': 'The nextCursor of the previous page',
  'query limit': 'Items per page',
  'query lastEventId': 'Resume the stream after this event id (for clients that cannot send Last-Event-ID)',
};

/** A stable camelCase id from method and path: GET /v1/tickets/{id}/messages → getTicketsByIdMessages. */
export function operationIdOf(method: string, path: string): string {
  const words = path
    .split('/')
    .filter((segment) => segment && segment !== 'v1')
    .flatMap((segment) => {
      const param = /^\{(.+)\}$/.exec(segment);
      return param ? ['by', ...param[1]!.split(/[^A-Za-z0-9]+/)] : segment.split(/[^A-Za-z0-9]+/);
    })
    .filter(Boolean);
  return [method.toLowerCase(), ...words.map((w) => w[0]!.toUpperCase() + w.slice(1))].join('');
}

/** zod's int() bounds are ±2^53-1: true, but noise in a document (and bogus examples in generators). */
function dropSafeIntegerBounds(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) dropSafeIntegerBounds(item);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const record = node as Json;
  if (record.minimum === Number.MIN_SAFE_INTEGER) delete record.minimum;
  if (record.maximum === Number.MAX_SAFE_INTEGER) delete record.maximum;
  for (const value of Object.values(record)) dropSafeIntegerBounds(value);
}

/** The "…Input" twins the zod transform adds for request bodies are left unreferenced once errors point at Problem. */
function pruneUnusedSchemas(doc: OpenApiDocument): void {
  const schemas = doc.components?.schemas;
  if (!schemas) return;
  for (;;) {
    const text = JSON.stringify({ ...doc, components: { ...doc.components, schemas: {} } }) + JSON.stringify(schemas);
    const unused = Object.keys(schemas).filter((name) => !text.includes(`"#/components/schemas/${name}"`));
    if (!unused.length) return;
    for (const name of unused) delete schemas[name];
  }
}

function describeParameter(parameter: Parameter, path: string): void {
  if (parameter.description) return;
  const known = PARAMETER_DESCRIPTIONS[`${parameter.in} ${parameter.name}`];
  const fromSchema = typeof parameter.schema?.description === 'string' ? parameter.schema.description : undefined;
  if (fromSchema) parameter.description = fromSchema;
  else if (known) parameter.description = known;
  else if (parameter.in === 'path') {
    const resource = path.split('/').filter((s) => s && !s.startsWith('{')).at(-1) ?? 'resource';
    parameter.description = parameter.name === 'id' ? `The id of the ${resource.replace(/s$/, '')}` : `The ${parameter.name} in the path`;
  } else parameter.description = `Filter or option: ${parameter.name}`;
}

const problemResponse = (status: string): Response => ({
  description: STATUS_MEANINGS[status]!,
  content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: PROBLEM_REF } } },
  headers: { 'X-Request-Id': headerRef('X-Request-Id') },
});

function finishResponses(operation: Operation, key: string, secured: boolean): void {
  const responses = (operation.responses ??= {});
  for (const [status, response] of Object.entries(responses)) {
    if (!response.description || response.description === 'Default Response') response.description = STATUS_MEANINGS[status] ?? `HTTP ${status}`;
    const code = Number(status);
    const headers: Json = { ...(response.headers ?? {}) };
    headers['X-Request-Id'] = headerRef('X-Request-Id');
    if (code >= 400) {
      // Every error is served as problem+json with the Problem schema, whatever the route wrote.
      response.content = { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: PROBLEM_REF } } };
      if (code === 429 || code === 503) headers['Retry-After'] = headerRef('Retry-After');
      if (code === 401) headers['WWW-Authenticate'] = headerRef('WWW-Authenticate');
    } else if (code === 304) {
      // Not modified: no body, the current ETag only.
      delete response.content;
      headers.ETag = headerRef('ETag');
    } else if (code >= 200 && code < 300) {
      if (ETAG_OPERATIONS.has(key)) headers.ETag = headerRef('ETag');
      if (LOCATION_OPERATIONS.has(key) && code === 201) headers.Location = headerRef('Location');
      if (EVENT_STREAM_OPERATIONS.has(key)) response.content = { 'text/event-stream': { schema: { type: 'string', description: 'Server-sent events (id, event, data lines)' } } };
      if (key.startsWith('post /v1/') && secured) headers['Idempotent-Replayed'] = headerRef('Idempotent-Replayed');
    }
    if (secured) {
      headers['X-RateLimit-Limit'] = headerRef('X-RateLimit-Limit');
      headers['X-RateLimit-Remaining'] = headerRef('X-RateLimit-Remaining');
      headers['X-RateLimit-Reset'] = headerRef('X-RateLimit-Reset');
    }
    response.headers = headers;
  }
  if (!Object.keys(responses).some((status) => status.startsWith('2'))) {
    const contentType = FIXED_CONTENT_TYPES[key];
    responses['200'] = { description: STATUS_MEANINGS['200']!, ...(contentType ? { content: { [contentType]: { schema: { type: 'string' } } } } : {}) };
  }
  // Any route answers 400 to a malformed URL (frameworkErrors in app.ts), probes included.
  if (!Object.keys(responses).some((status) => status.startsWith('4'))) responses['400'] = problemResponse('400');
  if (secured && !responses['401']) responses['401'] = { ...problemResponse('401'), headers: { 'WWW-Authenticate': headerRef('WWW-Authenticate'), 'X-Request-Id': headerRef('X-Request-Id') } };
}

/**
 * Completes the document @fastify/swagger built from the routes: operationIds, descriptions,
 * parameter descriptions, problem+json answers, response headers, `security: []` on public
 * routes, the Idempotency-Key header on key-authenticated POSTs, a servers entry.
 */
export function finishOpenApi<T extends object>(input: T, options: { serverUrl?: string | undefined } = {}): T {
  const doc = input as OpenApiDocument;
  doc.servers = [{ url: options.serverUrl ?? '/', description: options.serverUrl ? 'This deployment' : 'The server that serves this document' }];
  const components = (doc.components ??= {});
  components.headers = { ...(components.headers ?? {}), ...HEADERS };
  for (const [path, operations] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const operation = operations[method];
      if (!operation) continue;
      const key = `${method} ${path}`;
      operation.operationId ??= operationIdOf(method, path);
      operation.description ??= operation.summary ?? operationIdOf(method, path);
      const secured = Array.isArray(operation.security) && operation.security.length > 0;
      // A route without a key declares so: otherwise the document's global default would apply.
      if (!secured) operation.security = [];
      const parameters = operation.parameters ?? [];
      if (secured && method === 'post' && path.startsWith('/v1/') && !parameters.some((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key')) {
        parameters.push({ name: 'idempotency-key', in: 'header', required: false, schema: { type: 'string', minLength: 1, maxLength: 255 } });
      }
      for (const parameter of parameters) describeParameter(parameter, path);
      if (parameters.length) operation.parameters = parameters;
      if (parameters.some((p) => p.name === 'idempotency-key')) {
        // The Idempotency-Key refusals: reused with another request (422), still in progress (409).
        const responses = (operation.responses ??= {});
        responses['409'] ??= problemResponse('409');
        responses['422'] ??= problemResponse('422');
      }
      finishResponses(operation, key, secured);
    }
  }
  const problem = doc.components.schemas?.Problem as { properties?: Json } | undefined;
  if (problem?.properties) problem.properties.requestId = { type: 'string', description: 'The X-Request-Id of the exchange, to quote when reporting a problem' };
  // The event catalog (issue 15): envelopes as components, and as the webhooks subscribers receive.
  publishEventSchemas(doc);
  dropSafeIntegerBounds(doc);
  pruneUnusedSchemas(doc);
  return input;
}
