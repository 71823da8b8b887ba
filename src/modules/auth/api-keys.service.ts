import { createHash } from 'node:crypto';
import { and, desc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import type { Clock } from '../../shared/clock.js';
import { notFound } from '../../shared/errors.js';
import { apiKeys } from './api-keys.table.js';
import { ENV_ADMIN_PREFIX, generateKey, hashSecret, newSalt, parseKey, secretMatches, type Role } from './api-keys.models.js';

export interface Principal {
  keyId: string;
  name: string;
  role: Role;
  agentId: string | null;
}

export interface ApiKeyView {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  agentId: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

type Row = typeof apiKeys.$inferSelect;

const view = (row: Row): ApiKeyView => ({
  id: row.id,
  name: row.name,
  role: row.role as Role,
  prefix: row.prefix,
  agentId: row.agentId,
  createdAt: row.createdAt,
  lastUsedAt: row.lastUsedAt,
  revokedAt: row.revokedAt,
});

// last_used_at is a hint for admins, not an audit log: writing it on every request would
// turn every read into a write, so it is refreshed at most once a minute per key.
const LAST_USED_RESOLUTION_MS = 60_000;

// Every request authenticates; a verified key is remembered briefly so a busy agent desk does
// not cost a database round trip per call. Revoking clears this process's cache at once;
// other processes notice within the TTL.
const VERIFIED_TTL_MS = 5_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const VERIFIED_MAX = 10_000;

export function createApiKeyService(deps: { db: Database; clock: Clock }) {
  const { db, clock } = deps;
  const verified = new Map<string, { principal: Principal; until: number }>();
  const cacheKey = (token: string) => createHash('sha256').update(token).digest('hex');

  /** Looks the key up by its public prefix and checks the secret against the salted hash. */
  async function verify(token: string): Promise<Principal | null> {
    const { prefix, secret } = parseKey(token);
    const [row] = await db.select().from(apiKeys).where(eq(apiKeys.prefix, prefix)).limit(1);
    if (!row || row.revokedAt || !secretMatches(secret, row.salt, row.hash)) return null;
    const now = clock.now();
    if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      void db
        .update(apiKeys)
        .set({ lastUsedAt: now })
        .where(and(eq(apiKeys.id, row.id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, new Date(now.getTime() - LAST_USED_RESOLUTION_MS)))))
        .catch(() => undefined);
    }
    return { keyId: row.id, name: row.name, role: row.role as Role, agentId: row.agentId };
  }

  return {
    async authenticate(token: string): Promise<Principal | null> {
      const key = cacheKey(token);
      const hit = verified.get(key);
      if (hit && hit.until > Date.now()) return hit.principal;
      const principal = await verify(token);
      if (principal) {
        if (verified.size >= VERIFIED_MAX) verified.clear();
        verified.set(key, { principal, until: Date.now() + VERIFIED_TTL_MS });
      }
      return principal;
    },

    /** Whether this exact token was verified moments ago (no lookup, no side effects). */
    recentlyVerified(token: string): boolean {
      const hit = verified.get(cacheKey(token));
      return hit !== undefined && hit.until > Date.now();
    },

    forgetVerified(): void {
      verified.clear();
    },

    /** Creates a key; the token is returned here once and never stored. */
    async create(input: { name: string; role: Role; agentId?: string | null | undefined }): Promise<ApiKeyView & { token: string }> {
      const { token, prefix, secret } = generateKey();
      const salt = newSalt();
      const [row] = await db
        .insert(apiKeys)
        .values({ name: input.name, role: input.role, agentId: input.agentId ?? null, prefix, salt, hash: hashSecret(secret, salt), createdAt: clock.now() })
        .returning();
      return { ...view(row!), token };
    },

    /** Makes ADMIN_API_KEY a working admin key (and follows it when the variable changes). */
    async ensureEnvAdmin(secret: string): Promise<void> {
      verified.clear();
      const salt = newSalt();
      await db
        .insert(apiKeys)
        .values({ name: 'ADMIN_API_KEY', role: 'admin', prefix: ENV_ADMIN_PREFIX, salt, hash: hashSecret(secret, salt), createdAt: clock.now() })
        .onConflictDoUpdate({ target: apiKeys.prefix, set: { salt, hash: hashSecret(secret, salt), role: 'admin', revokedAt: null } });
    },

    async list(): Promise<ApiKeyView[]> {
      const rows = await db.select().from(apiKeys).orderBy(desc(apiKeys.createdAt));
      return rows.map(view);
    },

    /**
     * Whether the key with this id was revoked. False for a principal that is no API key (an OIDC
     * user's id is derived from its subject, and its tokens expire on their own).
     */
    async isRevoked(id: string): Promise<boolean> {
      if (!UUID.test(id)) return false;
      const [row] = await db.select({ revokedAt: apiKeys.revokedAt }).from(apiKeys).where(eq(apiKeys.id, id));
      return row !== undefined && row.revokedAt !== null;
    },

    async revoke(id: string): Promise<ApiKeyView> {
      verified.clear();
      const [row] = await db
        .update(apiKeys)
        .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, ${clock.now()})` })
        .where(eq(apiKeys.id, id))
        .returning();
      if (!row) throw notFound('API key', id);
      return view(row);
    },
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
