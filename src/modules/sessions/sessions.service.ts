import { createHash, randomBytes } from 'node:crypto';
import { and, eq, gt, isNull, lte, or, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import type { Clock } from '../../shared/clock.js';
import type { Role } from '../auth/api-keys.models.js';
import type { Principal } from '../auth/api-keys.service.js';
import { apiKeys } from '../auth/api-keys.table.js';
import { browserSessions } from './sessions.table.js';

const hashId = (id: string) => createHash('sha256').update(id).digest('hex');

/** Sessions of the people behind a browser (rows in browser_sessions); the cookie is src/http/session.ts. */
export function createSessionService(deps: { db: Database; clock: Clock; ttlHours: number }) {
  const { db, clock } = deps;
  return {
    /**
     * Opens a session acting as this principal; answers its id (256 random bits, given to the
     * cookie only). An OIDC sign-in names its issuer and subject (kept for the audit) and the
     * session acts under the principal's keyId (its bearer tokens' id).
     */
    async open(principal: Principal & { apiKeyId: string | null; oidc?: { issuer: string; subject: string } }): Promise<{ id: string; expiresAt: Date }> {
      const id = randomBytes(32).toString('base64url');
      const now = clock.now();
      const expiresAt = new Date(now.getTime() + deps.ttlHours * 3_600_000);
      const oidc = principal.oidc ? { oidcIssuer: principal.oidc.issuer, oidcSubject: principal.oidc.subject, principalKeyId: principal.keyId } : {};
      await db.insert(browserSessions).values({ idHash: hashId(id), apiKeyId: principal.apiKeyId, name: principal.name, role: principal.role, agentId: principal.agentId, ...oidc, createdAt: now, expiresAt });
      // Each sign-in clears a batch of expired sessions: the table stays bounded without a job.
      await db.execute(sql`delete from ${browserSessions} where ctid in (select ctid from ${browserSessions} where ${browserSessions.expiresAt} <= ${now.toISOString()}::timestamptz limit 100)`);
      return { id, expiresAt };
    },

    /**
     * The principal of a live session: not expired, and its API key (if any) not revoked. The
     * principal's keyId is the API key's id, so rate limits and Idempotency-Keys stay per key.
     */
    async principal(id: string): Promise<Principal | null> {
      const [row] = await db
        .select({ apiKeyId: browserSessions.apiKeyId, principalKeyId: browserSessions.principalKeyId, name: browserSessions.name, role: browserSessions.role, agentId: browserSessions.agentId, idHash: browserSessions.idHash })
        .from(browserSessions)
        .leftJoin(apiKeys, eq(apiKeys.id, browserSessions.apiKeyId))
        .where(and(eq(browserSessions.idHash, hashId(id)), gt(browserSessions.expiresAt, clock.now()), or(isNull(browserSessions.apiKeyId), isNull(apiKeys.revokedAt))))
        .limit(1);
      if (!row) return null;
      return { keyId: row.apiKeyId ?? row.principalKeyId ?? sessionKeyId(row.idHash), name: row.name, role: row.role as Role, agentId: row.agentId };
    },

    async close(id: string): Promise<void> {
      await db.delete(browserSessions).where(eq(browserSessions.idHash, hashId(id)));
    },

    async deleteExpired(): Promise<number> {
      const gone = await db.delete(browserSessions).where(lte(browserSessions.expiresAt, clock.now())).returning({ idHash: browserSessions.idHash });
      return gone.length;
    },
  };
}

/** A stable uuid-shaped id for a session without an API key (rate-limit and idempotency buckets take uuids). */
function sessionKeyId(idHash: string): string {
  const h = idHash.slice(0, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export type SessionService = ReturnType<typeof createSessionService>;
