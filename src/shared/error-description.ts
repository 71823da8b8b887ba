/**
 * Errors as they may be logged or stored: without the values a failed query carried.
 *
 * drizzle wraps every driver error in a DrizzleQueryError whose message is
 * "Failed query: <sql>\nparams: <every bound value>", and keeps `query` and `params` as
 * properties; pg's DatabaseError keeps the offending row in `detail` ("Failing row contains
 * (…)", "Key (email)=(…) already exists"); ioredis keeps a failed command's arguments. Logged
 * as is, one deadlock during intake would write a customer's mail text, addresses and webhook
 * URLs into the log up to three times. What is kept is what an operator needs: the SQLSTATE
 * code, Postgres' message with quoted values censored, the constraint, table and column, and
 * our own stack frames.
 */

const CENSOR = '[redacted]';

/** Properties that hold bound values, rows or command arguments: never copied. */
const DROPPED_PROPERTIES = new Set(['params', 'parameters', 'query', 'values', 'detail', 'where', 'internalQuery', 'internalPosition', 'position', 'args']);

/** How deep a cause chain is followed (drizzle → pg is two; a guard against cycles). */
const MAX_DEPTH = 5;

/** Postgres quotes names after these words; any other quoted text in its message is a value. */
const NAME_BEFORE_QUOTE = /\b(?:relation|constraint|column|table|index|type|encoding|schema|function|sequence|database|role|operator|extension|trigger|view|domain|collation|publication|subscription|savepoint|cursor|statement|channel)\s+$/i;

interface QueryError extends Error {
  query: string;
  params: unknown;
  cause?: unknown;
}

/** A DrizzleQueryError or anything shaped like one (a failed query with its bound values). */
function isQueryError(error: Error): error is QueryError {
  return 'params' in error && typeof (error as { query?: unknown }).query === 'string';
}

/** A Postgres error from pg: a five-character SQLSTATE and a severity. */
function isPostgresError(error: Error): boolean {
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && typeof severity === 'string';
}

/** Postgres' message with every quoted value censored; quoted names (relation "x") stay. */
export function censorQuotedValues(message: string): string {
  return message.replace(/"(?:[^"]|"")*"/g, (quoted, offset: number) => (NAME_BEFORE_QUOTE.test(message.slice(Math.max(0, offset - 24), offset)) ? quoted : `"${CENSOR}"`));
}

/**
 * A message with drizzle's "params: …" tail cut off, wherever it ended up (an error that
 * quoted another's message, a job's failedReason logged as a string).
 */
export function withoutQueryParams(message: string): string {
  const at = message.search(/\n\s*params: /);
  return at === -1 ? message : `${message.slice(0, at)}\nparams: ${CENSOR}`;
}

/** The error whose message describes a failure: a failed query's cause (the driver's error), else itself. */
function describedError(error: Error): Error {
  if (isQueryError(error) && error.cause instanceof Error) return error.cause;
  return error;
}

/** The message that may be logged for this error (not its cause chain). */
function safeMessage(error: Error): string {
  const described = describedError(error);
  if (described !== error) {
    const inner = safeMessage(described);
    const code = (described as { code?: unknown }).code;
    return typeof code === 'string' && !inner.includes(code) ? `query failed: ${code}: ${inner}` : `query failed: ${inner}`;
  }
  // A failed query without a driver error: its SQL is ours and has no values, its params do.
  if (isQueryError(error)) return `query failed: ${error.query.slice(0, 200)}`;
  const message = withoutQueryParams(error.message);
  return isPostgresError(error) ? censorQuotedValues(message) : message;
}

/**
 * A short, single-line reason (code and message, no stack) that is safe to log or to store as a
 * dead letter's reason: a failed query is described by its driver error, without its values.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return typeof error === 'string' ? withoutQueryParams(error).split('\n')[0]! : String(error);
  const described = describedError(error);
  const code = (described as { code?: unknown }).code;
  const message = (safeMessage(error).split('\n')[0] ?? '').replace(/^query failed: /, '');
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}

/** The error's stack with its first lines (the message, which may hold values) replaced. */
function safeStack(error: Error, message: string): string | undefined {
  if (typeof error.stack !== 'string') return undefined;
  const frames = error.stack.split('\n').filter((line) => /^\s+at /.test(line));
  return [`${error.name}: ${message}`, ...frames].join('\n');
}

export interface SerializedError {
  type: string;
  message: string;
  stack?: string;
  [property: string]: unknown;
}

/**
 * The pino `err` serializer every logger uses: like pino's own (type, message, stack, own
 * properties, cause), but a failed query is shown as its driver error, and bound values,
 * rows and command arguments are left out wherever they sit in the cause chain.
 */
export function serializeError(error: unknown, depth = 0): unknown {
  if (typeof error === 'string') return withoutQueryParams(error);
  if (!(error instanceof Error)) return error;
  const message = safeMessage(error);
  const out: SerializedError = { type: error.constructor?.name ?? error.name, message };
  const stack = safeStack(error, message);
  if (stack !== undefined) out.stack = stack;
  const described = describedError(error);
  // The driver's code, constraint, table… describe a failed query: lifted next to its message.
  const sources = described === error ? [error] : [described, error];
  for (const source of sources) {
    for (const [key, value] of Object.entries(source)) {
      if (DROPPED_PROPERTIES.has(key) || key in out || key === 'cause' || key === 'errors' || value === undefined) continue;
      if (key === 'command' && value && typeof value === 'object') out.command = { name: (value as { name?: unknown }).name };
      else out[key] = value;
    }
  }
  if (depth < MAX_DEPTH) {
    const cause = described === error ? error.cause : described.cause;
    if (cause !== undefined) out.cause = serializeError(cause, depth + 1);
    if (error instanceof AggregateError) out.aggregateErrors = error.errors.map((e: unknown) => serializeError(e, depth + 1));
  }
  return out;
}
