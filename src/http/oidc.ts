import { createHash } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import type { Database } from '../db/client.js';
import { agents } from '../modules/agents/agents.table.js';
import { STAFF, type Role } from '../modules/auth/api-keys.models.js';
import type { Principal } from '../modules/auth/api-keys.service.js';
import { AppError, forbidden } from '../shared/errors.js';

/*
 * OIDC bearer tokens (optional; OIDC_ISSUER and OIDC_AUDIENCE): a JWT signed by the issuer's
 * keys (its JWKS, fetched and cached by jose, refetched when a new key id appears) for our
 * audience authenticates as the active agent whose e-mail is the token's `email` claim (with
 * `email_verified: true`), with the
 * role in OIDC_ROLE_CLAIM. jose refuses alg "none" and symmetric algorithms are not accepted
 * (only the issuer's public keys verify); exp, nbf, iss and aud are checked. API keys keep working.
 */

export interface OidcOptions {
  issuer: string;
  audience: string;
  /** Unset: discovered from <issuer>/.well-known/openid-configuration. */
  jwksUrl?: string | undefined;
  roleClaim: string;
  db: Database;
}

/** Asymmetric algorithms only: an HS256 token would be verifiable with a shared secret we do not have. */
export const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** Where a role claim lists several roles, the strongest one counts. */
const ROLE_ORDER: readonly Role[] = ['admin', 'supervisor', 'agent'];
export const CLOCK_TOLERANCE_SEC = 30;

const invalidToken = (detail: string) =>
  new AppError(401, 'invalid-token', 'Unauthorized', detail, [{ field: 'header.authorization', message: detail }]);

export function createOidcAuthenticator(options: OidcOptions) {
  const issuer = options.issuer;
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  let discovering: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;

  async function keySet(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    if (jwks) return jwks;
    discovering ??= (async () => {
      const url = options.jwksUrl ?? (await discoverJwksUri(issuer));
      jwks = createRemoteJWKSet(new URL(url), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
      return jwks;
    })().finally(() => {
      discovering = undefined;
    });
    return discovering;
  }

  return {
    /** The agent the token speaks for; throws a 401 (403 for a missing role) problem otherwise. */
    async authenticate(token: string): Promise<Principal> {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, await keySet(), { issuer, audience: options.audience, algorithms: ALGORITHMS, clockTolerance: CLOCK_TOLERANCE_SEC }));
      } catch (error) {
        throw invalidToken(describeJoseError(error));
      }
      const email = typeof payload.email === 'string' ? payload.email : undefined;
      if (!email) throw invalidToken('The token carries no email claim.');
      // Only an address the issuer says it verified: where email_verified is missing, some
      // issuers let a user set any address on their own account, which would make them any agent.
      if (payload.email_verified !== true) throw invalidToken('The token\'s e-mail is not verified (email_verified must be true).');
      const role = roleOf(claimAt(payload, options.roleClaim));
      if (!role) throw forbidden(`The token's ${options.roleClaim} claim names none of the roles ${ROLE_ORDER.join(', ')}.`);
      const agent = await activeAgentByEmail(options.db, email);
      if (!agent) throw invalidToken('No active agent has the token\'s e-mail.');
      return { keyId: subjectKeyId(issuer, payload.sub ?? email), name: agent.name, role, agentId: agent.id };
    },
  };
}

export type OidcAuthenticator = ReturnType<typeof createOidcAuthenticator>;

/** The active agent with this e-mail (case aside): whom an OIDC identity acts as. */
export async function activeAgentByEmail(db: Database, email: string): Promise<{ id: string; name: string } | undefined> {
  const [agent] = await db
    .select({ id: agents.id, name: agents.name })
    .from(agents)
    .where(and(sql`lower(${agents.email}) = lower(${email})`, eq(agents.active, true)))
    .limit(1);
  return agent;
}

async function discoverJwksUri(issuer: string): Promise<string> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
  const document = response?.ok ? ((await response.json().catch(() => undefined)) as { jwks_uri?: unknown } | undefined) : undefined;
  if (typeof document?.jwks_uri !== 'string') throw new Error(`OIDC discovery at ${url} gave no jwks_uri`);
  return document.jwks_uri;
}

function describeJoseError(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'The token has expired.';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return 'The token is not from the configured issuer.';
    if (error.claim === 'aud') return 'The token is not for this audience.';
    return `The token's ${error.claim} claim is not acceptable.`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return 'The token\'s signing algorithm is not accepted.';
  if (error instanceof errors.JWKSNoMatchingKey) return 'No key of the issuer verifies the token.';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The token\'s signature does not verify.';
  if (error instanceof errors.JOSEError) return 'The token is not a valid signed JWT.';
  // Discovery or JWKS fetch failure: the token may be fine, the issuer unreachable.
  return 'The token could not be verified (the issuer\'s keys are unavailable).';
}

/** A claim by dotted path ("realm_access.role"). */
export function claimAt(payload: JWTPayload, path: string): unknown {
  let value: unknown = payload;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

export function roleOf(value: unknown): Role | undefined {
  const names = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
  return ROLE_ORDER.find((role) => names.includes(role) && STAFF.includes(role));
}

/** A stable uuid-shaped id per issuer and subject: rate limits and Idempotency-Keys are kept per caller. */
export function subjectKeyId(issuer: string, subject: string): string {
  const h = createHash('sha256').update(issuer).update('\0').update(subject).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
