import { createHash } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
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
 *   onSend      stores the answer (status, body, a few headers), or frees the key on a 5xx.
 */

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
    // Gone between the two statements (its request failed with a 5xx) counts as in progress: retry.
    if (!first || first.state === 'running' || first.status === null) {
      void reply.header('retry-after', '1');
      throw new AppError(409, 'idempotency-in-progress', 'Conflict', 'A request with this Idempotency-Key is still being processed; retry shortly.', [
        { field: `header.${IDEMPOTENCY_HEADER}`, message: 'a request with this key is in progress' },
      ]);
    }
    return replay(reply, first.status, first.headers ?? {}, first.body ?? '');
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const claim = claims.get(request);
    if (!claim) return payload;
    claims.delete(request);
    const where = and(eq(idempotencyKeys.apiKeyId, claim.apiKeyId), eq(idempotencyKeys.key, claim.key), eq(idempotencyKeys.state, 'running'));
    try {
      const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : payload == null ? '' : undefined;
      if (reply.statusCode >= 500 || body === undefined) {
        // Not an answer to repeat: the work may not have happened, and the client may retry.
        await db.delete(idempotencyKeys).where(where);
      } else {
        const headers = Object.fromEntries(REPLAYED_HEADERS.flatMap((name) => (reply.hasHeader(name) ? [[name, String(reply.getHeader(name))]] : [])));
        await db.update(idempotencyKeys).set({ state: 'done', status: reply.statusCode, headers, body }).where(where);
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
