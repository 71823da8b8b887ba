import type { Logger } from 'pino';
import { describeError } from './error-description.js';

/** The backing services a process cannot work without. */
export type LinkName = 'postgres' | 'redis';

/**
 * Whether a backing service is reachable, as the connections to it last reported. Clients
 * retry on their own (pg pools replace dead clients, ioredis reconnects with backoff); this
 * only turns their per-attempt errors into one log line per change of state, so an outage of
 * any length costs two lines (lost, restored) instead of one per retry.
 */
export class LinkState {
  #down = false;
  #since = 0;

  constructor(
    readonly name: LinkName,
    private readonly logger: Logger,
    /** Called on each change of state (a metric's gauge), and once at construction. */
    private readonly onChange: (up: boolean) => void = () => undefined,
  ) {
    onChange(true);
  }

  get up(): boolean {
    return !this.#down;
  }

  lost(error: unknown): void {
    if (this.#down) return;
    this.#down = true;
    this.#since = Date.now();
    this.logger.error({ dependency: this.name, reason: describeError(error) }, `${this.name} unreachable: retrying with backoff`);
    this.onChange(false);
  }

  restored(): void {
    if (!this.#down) return;
    this.#down = false;
    this.logger.warn({ dependency: this.name, downMs: Date.now() - this.#since }, `${this.name} reachable again`);
    this.onChange(true);
  }
}

/** Reconnection delays grow to this cap; jitter keeps a fleet from reconnecting in step. */
export const RECONNECT_CAP_MS = 5_000;

/** Delay before reconnection attempt `attempt` (1, 2, …): exponential from 100 ms, capped, with "equal jitter" (half fixed, half random). */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(RECONNECT_CAP_MS, 100 * 2 ** Math.min(Math.max(attempt - 1, 0), 16));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export interface Links {
  postgres: LinkState;
  redis: LinkState;
}

export function createLinks(logger: Logger, onChange: (name: LinkName, up: boolean) => void = () => undefined): Links {
  return { postgres: new LinkState('postgres', logger, (up) => onChange('postgres', up)), redis: new LinkState('redis', logger, (up) => onChange('redis', up)) };
}

/** The error and its causes (drizzle wraps driver errors in a DrizzleQueryError with `cause`). */
export function* causes(error: unknown): Generator<Error> {
  let current = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    yield current;
    current = current.cause;
  }
}

/** A failure of the network path, not of the request: nothing the client could fix. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);
const POSTGRES_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|is not queryable|Client was closed|Connection refused|the database system is (starting up|shutting down|in recovery mode)/i;
const REDIS_MESSAGES = /Stream isn't writeable|Connection is closed|max retries per request|Command timed out|Redis is unavailable/i;

/**
 * Which backing service an error says is unreachable, if any. Postgres: SQLSTATE class 08
 * (connection exception), 57P01–57P03 (administrator shutdown, crash shutdown, cannot
 * connect now) and the pg driver's own messages; Redis: ioredis' refusals while disconnected.
 */
export function unavailableDependency(error: unknown): LinkName | null {
  for (const e of causes(error)) {
    if (e instanceof DependencyUnavailableError) return e.dependency;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (code.startsWith('08') || ['57P01', '57P02', '57P03'].includes(code))) return 'postgres';
    if (POSTGRES_MESSAGES.test(e.message)) return 'postgres';
    if (REDIS_MESSAGES.test(e.message) || e.name === 'MaxRetriesPerRequestError') return 'redis';
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return /ioredis/.test(e.stack ?? '') ? 'redis' : 'postgres';
  }
  return null;
}

/** Thrown by our own code when it will not wait for a backing service that is away. */
export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: LinkName,
    message: string,
  ) {
    super(message);
    this.name = 'DependencyUnavailableError';
  }
}

/**
 * For the 'error' events of BullMQ objects and the failures of background work: an error that
 * only says Postgres or Redis is unreachable is not logged again (the connections themselves
 * report the outage to their link, once, as it happens: an operation that failed before a
 * restore and is reported after it must not log "unreachable" a second time); anything else
 * goes to `other`.
 */
export function ignoringOutages(other: (error: Error) => void): (error: unknown) => void {
  return (error) => {
    if (!unavailableDependency(error)) other(error instanceof Error ? error : new Error(String(error)));
  };
}
