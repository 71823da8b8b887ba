import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Database } from '../db/client.js';
import type { Clock } from '../shared/clock.js';
import { AppError, badRequest } from '../shared/errors.js';
import { idempotencyKeys } from './idempotency.table.js';
import type { App } from './types.js';

/*
 * Idempotency-Key on POST (the Stripe convention): a client that did not hear the answer retries
 * with the same key and gets the first answer, and the work is done once. Implemented once for
 * every key-authenticated POST, as hooks around the handler:
 *   preHandler  claims (API key, Idempotency-Key) in Postgres, or replays / refuses;
 *   handler     runs inside the claim's scope: every transaction the work commits also marks
 *               the claim 'committed' (same transaction), see markCommitsOf below;
 *   onSend      stores the answer (status, body, a few headers), or frees the key on a 5xx.
 *
 * A process that dies after the work committed but before the answer was stored leaves the row
 * 'committed': a retry never redoes the work; it gets 409 idempotency-answer-lost (look the
 * result up) instead of the answer it missed. The remaining window: a route whose work is not in
 * a transaction (a single autocommitted statement, e.g. POST /v1/api-keys) has no commit to mark,
 * so a death between its statement and the store lets a retry after ABANDONED_CLAIM_MS redo it.
 */

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The answer shows a secret once (a new API key's token, a webhook signing secret, a stream
     * token): it is never written to the idempotency table. A retry does not redo the work; it
     * gets 409 idempotency-answer-withheld with the first answer's Location instead of the secret.
     */
    answerHoldsSecret?: boolean;
  }
}

export const IDEMPOTENCY_HEADER = 'idempotency-key';
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** Headers of the first answer that a replay repeats (the rest belong to the new exchange). */
const REPLAYED_HEADERS = ['content-type', 'etag', 'location'];
/**
 * A 'running' claim older than this belonged to a request whose process died before answering
 * (handlers take seconds at most): a retry with the same request takes it over instead of
 * getting 409 until expiry.
 */
export const ABANDONED_CLAIM_MS = 120_000;

interface Claim {
  apiKeyId: string;
  key: string;
}

/** The claim of the request whose handler is running (AsyncLocalStorage follows its awaits). */
const claimScope = new AsyncLocalStorage<Claim>();
const MARKED = Symbol('idempotency marks commits');

/**
 * Wraps db.transaction once: a transaction run for a request holding a claim also updates the
 * claim to 'committed' before it commits, so "the work happened" and "the key is spent" are one
 * commit. Services keep calling db.transaction as they always did; nested ones use tx.transaction
 * (savepoints) and are covered by the outer one.
 */
function markCommitsOf(db: Database): void {
  const target = db as Database & { [MARKED]?: true };
  if (target[MARKED]) return;
  target[MARKED] = true;
  const original = db.transaction.bind(db);
  db.transaction = ((work: Parameters<Database['transaction']>[0], config?: Parameters<Database['transaction']>[1]) => {
    const claim = claimScope.getStore();
    if (!claim) return original(work, config);
    return original(async (tx) => {
      const result = await work(tx);
      await tx
        .update(idempotencyKeys)
        .set({ state: 'committed' })
        .where(and(eq(idempotencyKeys.apiKeyId, claim.apiKeyId), eq(idempotencyKeys.key, claim.key), eq(idempotencyKeys.state, 'running')));
      return result;
    }, config);
  }) as Database['transaction'];
}

/** The request's identity for "the same request": method, path with query, caller, body with keys sorted. */
export function requestFingerprint(method: string, url: string, apiKeyId: string, body: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify([method, url, apiKeyId, canonical(body)]))
    .digest('hex');
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value) && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

export interface IdempotencyOptions {
  db: Database;
  clock: Clock;
  ttlHours: number;
}

/** Installs the hooks on the app (before the routes are declared, so that every POST route gets them). */
export function registerIdempotency(app: App, { db, clock, ttlHours }: IdempotencyOptions): void {
  const claims = new WeakMap<FastifyRequest, Claim>();
  markCommitsOf(db);

  // Every POST handler runs in its request's claim scope (none without an Idempotency-Key).
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.includes('POST') || !route.url.startsWith('/v1/')) return;
    const handler = route.handler;
    route.handler = function scoped(this: unknown, request: FastifyRequest, reply: FastifyReply) {
      const claim = claims.get(request);
      return claim ? claimScope.run(claim, () => handler.call(this as never, request, reply)) : handler.call(this as never, request, reply);
    } as typeof handler;
  });

  app.addHook('preHandler', async (request, reply) => {
    // /v1 only: key-authenticated webhooks read their raw body themselves (the hash would not see it)
    // and have their providers' own delivery ids.
    if (request.method !== 'POST' || !request.principal || !request.url.startsWith('/v1/')) return;
    const header = request.headers[IDEMPOTENCY_HEADER];
    if (header === undefined) return;
    if (typeof header !== 'string' || !KEY_PATTERN.test(header)) throw badRequest(`header.${IDEMPOTENCY_HEADER}`, 'must be 1 to 255 printable ASCII characters (a UUID is a good key)');
    const apiKeyId = request.principal.keyId;
    const requestHash = requestFingerprint(request.method, request.url, apiKeyId, request.body);
    const now = clock.now();
    const row = { apiKeyId, key: header, requestHash, state: 'running' as const, status: null, headers: null, body: null, lockedAt: now, createdAt: now, expiresAt: new Date(now.getTime() + ttlHours * 3_600_000) };
    // One statement decides who works: a new key, an expired one, or a claim abandoned by a dead
    // process (same request only) is taken; anything else is left as it is and read below.
    const taken = await db
      .insert(idempotencyKeys)
      .values(row)
      .onConflictDoUpdate({
        target: [idempotencyKeys.apiKeyId, idempotencyKeys.key],
        set: row,
        setWhere: sql`${idempotencyKeys.expiresAt} <= ${now.toISOString()}::timestamptz or (${idempotencyKeys.state} = 'running' and ${idempotencyKeys.lockedAt} < ${new Date(now.getTime() - ABANDONED_CLAIM_MS).toISOString()}::timestamptz and ${idempotencyKeys.requestHash} = ${requestHash})`,
      })
      .returning({ key: idempotencyKeys.key });
    if (taken.length > 0) {
      claims.set(request, { apiKeyId, key: header });
      // Each stored answer clears up to a batch of expired ones, so the table stays bounded by
      // the keys of the last TTL even with no maintenance job running.
      await deleteExpiredIdempotencyKeys(db, now, EXPIRY_BATCH);
      return;
    }
    const [first] = await db.select().from(idempotencyKeys).where(and(eq(idempotencyKeys.apiKeyId, apiKeyId), eq(idempotencyKeys.key, header)));
    if (first && first.requestHash !== requestHash) {
      throw new AppError(422, 'idempotency-key-reused', 'Idempotency-Key reused', 'This Idempotency-Key was used for another request (method, path or body); use a new key for a new request.', [
        { field: `header.${IDEMPOTENCY_HEADER}`, message: 'already used for another request' },
      ]);
    }
    // The work committed but its answer was never stored (the process died in between): the work
    // is not done again; the client looks the result up instead.
    if (first && first.state === 'committed' && first.lockedAt.getTime() < now.getTime() - ABANDONED_CLAIM_MS) {
      throw new AppError(409, 'idempotency-answer-lost', 'Conflict', 'The request with this Idempotency-Key was carried out, but its answer was lost (the server stopped before sending it); it will not be carried out again: look the result up instead of retrying.', [
        { field: `header.${IDEMPOTENCY_HEADER}`, message: 'the request with this key was done; its answer was lost' },
      ]);
    }
    // Gone between the two statements (its request failed with a 5xx) counts as in progress: retry.
    if (!first || first.state !== 'done' || first.status === null) {
      void reply.header('retry-after', '1');
      throw new AppError(409, 'idempotency-in-progress', 'Conflict', 'A request with this Idempotency-Key is still being processed; retry shortly.', [
        { field: `header.${IDEMPOTENCY_HEADER}`, message: 'a request with this key is in progress' },
      ]);
    }
    // Done, but its answer held a secret and was not kept (answerHoldsSecret): a null body.
    if (first.body === null) {
      if (first.headers?.location) void reply.header('location', first.headers.location);
      throw new AppError(409, 'idempotency-answer-withheld', 'Conflict', 'The request with this Idempotency-Key was carried out; its answer showed a secret once and is not kept, so it cannot be repeated. The Location header names what was created; rotate or replace its secret if the first answer was lost.', [
        { field: `header.${IDEMPOTENCY_HEADER}`, message: 'the request with this key was done; its answer held a secret and is not repeated' },
      ]);
    }
    return replay(reply, first.status, first.headers ?? {}, first.body);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const claim = claims.get(request);
    if (!claim) return payload;
    claims.delete(request);
    const mine = and(eq(idempotencyKeys.apiKeyId, claim.apiKeyId), eq(idempotencyKeys.key, claim.key));
    const where = and(mine, inArray(idempotencyKeys.state, ['running', 'committed']));
    try {
      const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : payload == null ? '' : undefined;
      if (reply.statusCode >= 500 || body === undefined) {
        // Not an answer to repeat: unless a transaction of the work committed (the claim then stays
        // 'committed'), the work did not happen and the client may retry.
        await db.delete(idempotencyKeys).where(and(mine, eq(idempotencyKeys.state, 'running')));
      } else {
        const headers = Object.fromEntries(REPLAYED_HEADERS.flatMap((name) => (reply.hasHeader(name) ? [[name, String(reply.getHeader(name))]] : [])));
        // A secret shown once is never stored: the row keeps status and headers, and a null body.
        const kept = request.routeOptions.config.answerHoldsSecret ? null : body;
        await db.update(idempotencyKeys).set({ state: 'done', status: reply.statusCode, headers, body: kept }).where(where);
      }
    } catch (error) {
      // The answer still goes out; the claim stays 'running' and is taken over after ABANDONED_CLAIM_MS.
      request.log.error({ err: error }, 'idempotency: could not store the answer');
    }
    return payload;
  });
}

function replay(reply: FastifyReply, status: number, headers: Record<string, string>, body: string): FastifyReply {
  return reply.code(status).headers(headers).header('idempotent-replayed', 'true').send(body);
}

const EXPIRY_BATCH = 100;

/** Deletes up to `limit` stored answers past their expiry (each POST that claims a key; a maintenance job may call it too). */
export async function deleteExpiredIdempotencyKeys(db: Database, now: Date, limit = 10_000): Promise<number> {
  const gone = await db.execute(
    sql`delete from ${idempotencyKeys} where ctid in (select ctid from ${idempotencyKeys} where ${idempotencyKeys.expiresAt} <= ${now.toISOString()}::timestamptz limit ${limit})`,
  );
  return gone.rowCount ?? 0;
}
