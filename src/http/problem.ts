import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { InvalidPayloadError } from '../channels/channel.errors.js';
import { LifecycleError } from '../domain/ticket-lifecycle.js';
import { AppError, badRequest, type FieldProblem } from '../shared/errors.js';
import { redactUrl } from '../shared/logger.js';
import { describeError } from '../shared/error-description.js';
import { unavailableDependency } from '../shared/link-state.js';
import { trackAllowedMethods } from './allowed-methods.js';

/** Seconds a client is asked to wait when Postgres or Redis is unreachable. */
const DEPENDENCY_RETRY_AFTER_SEC = 5;

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: string;
  errors?: FieldProblem[];
  [extension: string]: unknown;
}

const CONTEXT_NAMES: Record<string, string> = { querystring: 'query', params: 'path', headers: 'header', body: 'body' };

function fieldName(context: string | undefined, instancePath: string): string {
  const where = CONTEXT_NAMES[context ?? 'body'] ?? context ?? 'body';
  const path = instancePath.replace(/^\//, '').split('/').filter(Boolean).join('.');
  return path ? `${where}.${path}` : where;
}

/** Known framework errors that are the client's fault, mapped to a status and a problem code. */
const FASTIFY_CLIENT_ERRORS: Record<string, { status: number; code: string; title: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported-media-type', title: 'Unsupported media type' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload-too-large', title: 'Payload too large' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'validation', title: 'Invalid request' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'malformed-json', title: 'Malformed JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'validation', title: 'Invalid request' },
  FST_ERR_CTP_EMPTY_TYPE: { status: 415, code: 'unsupported-media-type', title: 'Unsupported media type' },
  FST_ERR_CTP_INVALID_TYPE: { status: 415, code: 'unsupported-media-type', title: 'Unsupported media type' },
  FST_ERR_BAD_URL: { status: 400, code: 'bad-url', title: 'Bad URL' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, code: 'validation', title: 'Invalid request' },
};

/** A problem of our URN namespace: its type is the code's URN; `rest` adds errors and extensions. */
function problem(code: string, title: string, status: number, detail: string, rest: { instance: string; errors?: FieldProblem[]; [extension: string]: unknown }): Problem {
  return { type: `urn:complaint-desk:problem:${code}`, title, status, detail, code, ...rest };
}

export function problemOf(error: unknown, request: FastifyRequest): Problem {
  // The instance is echoed in bodies that clients and proxies log: no token survives in it.
  // requestId: the X-Request-Id of the exchange, so a client's report finds our log lines.
  const base = { instance: redactUrl(request.url), requestId: request.id };
  if (error instanceof AppError) {
    return problem(error.code, error.title, error.status, error.message, { ...(error.errors.length ? { errors: error.errors } : {}), ...error.extra, ...base });
  }
  if (error instanceof LifecycleError) {
    const errors = [{ field: 'body.status', message: error.message }];
    return problem(error.code, 'Conflict', 409, error.message, { errors, from: error.from, ...(error.to ? { to: error.to } : {}), ...base });
  }
  if (error instanceof InvalidPayloadError) {
    const errors = [{ field: error.field, message: error.message }];
    return problem('invalid-payload', 'Invalid payload', 400, `${error.field}: ${error.message}`, { errors, ...base });
  }
  const fastifyError = error as FastifyError & { validationContext?: string };
  if (hasZodFastifySchemaValidationErrors(fastifyError)) {
    const errors = fastifyError.validation.map((issue) => ({
      field: fieldName(fastifyError.validationContext, issue.instancePath),
      message: issue.message ?? 'is invalid',
    }));
    return problem('validation', 'Invalid request', 400, errors.map((e) => `${e.field}: ${e.message}`).join('; '), { errors, ...base });
  }
  const known = fastifyError.code ? FASTIFY_CLIENT_ERRORS[fastifyError.code] : undefined;
  if (known) {
    const field = known.code === 'unsupported-media-type' ? 'header.content-type' : 'body';
    return problem(known.code, known.title, known.status, fastifyError.message, { errors: [{ field, message: fastifyError.message }], ...base });
  }
  const status = fastifyError.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // A 4xx raised by a plugin (rate limit, helmet…): its message is meant for the client.
    return problem(status === 429 ? 'rate-limited' : 'client-error', fastifyError.name ?? 'Client error', status, fastifyError.message, base);
  }
  // Postgres or Redis unreachable (a terminated backend, a restart, a failover): the client
  // is told to come back shortly (Retry-After is set by the handler) rather than given a 500.
  const dependency = unavailableDependency(error);
  if (dependency) {
    return problem('dependency-unavailable', 'Service unavailable', 503, `${dependency} is unreachable; retry shortly`, base);
  }
  // A 5xx never leaks its message: it may carry SQL, paths or secrets.
  return problem('internal', 'Internal server error', 500, 'An unexpected error occurred; it has been logged.', base);
}

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  // RFC 9110: a 401 names the scheme that would be accepted.
  if (problem.status === 401 && !reply.hasHeader('www-authenticate')) void reply.header('www-authenticate', 'Bearer realm="complaint-desk"');
  return reply.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
}

/**
 * Where the first string holding U+0000 sits in a parsed body or query ("body.customer.name"),
 * if any. Postgres text cannot store that character, so letting it through turns a client's
 * mistake into a 500. Iterative, with paths built only on a hit, so a deeply nested body
 * costs neither stack nor quadratic memory.
 */
export function findNulCharacter(root: unknown, rootPath: string): string | undefined {
  interface Node {
    value: unknown;
    key: string;
    parent: Node | undefined;
  }
  const pathOf = (node: Node): string => {
    const keys: string[] = [];
    for (let n: Node | undefined = node; n; n = n.parent) keys.push(n.key);
    return keys.reverse().join('.');
  };
  const stack: Node[] = [{ value: root, key: rootPath, parent: undefined }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const { value } = node;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return pathOf(node);
    } else if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
      const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
      for (let i = entries.length - 1; i >= 0; i--) stack.push({ key: entries[i]![0], value: entries[i]![1], parent: node });
    }
  }
  return undefined;
}

export function installProblemHandlers(app: FastifyInstance): void {
  const allowedMethods = trackAllowedMethods(app);
  // API-key routes refuse U+0000 in any string with a 400 naming the field (webhooks, which
  // carry no API key, decide for themselves what to do with provider payloads).
  app.addHook('preValidation', async (request) => {
    if (!request.principal) return;
    const field = findNulCharacter(request.body, 'body') ?? findNulCharacter(request.query, 'query');
    if (field) throw badRequest(field, 'must not contain the NUL character (U+0000)');
  });
  app.setErrorHandler((error, request, reply) => {
    const problem = problemOf(error, request);
    if (problem.code === 'dependency-unavailable') {
      // The outage itself is logged once by its link (link-state.ts); a line per refused request, without a stack.
      request.log.warn({ code: problem.code, reason: describeError(error) }, 'request refused: dependency unavailable');
      void reply.header('retry-after', String(DEPENDENCY_RETRY_AFTER_SEC));
    } else if (problem.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: problem.code, status: problem.status }, 'request refused');
    return sendProblem(reply, problem);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = allowedMethods.of(path);
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      void reply.header('allow', allowed.join(', '));
      return sendProblem(reply, {
        type: 'urn:complaint-desk:problem:method-not-allowed',
        title: 'Method not allowed',
        status: 405,
        detail: `${redactUrl(path)} answers ${allowed.join(', ')}, not ${request.method}`,
        code: 'method-not-allowed',
        instance: redactUrl(request.url),
        requestId: request.id,
      });
    }
    return sendProblem(reply, {
      type: 'urn:complaint-desk:problem:not-found',
      title: 'Not found',
      status: 404,
      detail: `No route ${request.method} ${redactUrl(path)}`,
      code: 'not-found',
      instance: redactUrl(request.url),
      requestId: request.id,
    });
  });
}
