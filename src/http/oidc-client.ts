import { createHash, timingSafeEqual } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { z } from 'zod';
import type { Role } from '../modules/auth/api-keys.models.js';
import type { Clock } from '../shared/clock.js';
import { ALGORITHMS, CLOCK_TOLERANCE_SEC, claimAt, roleOf } from './oidc.js';

/*
 * The relying party's side of the OpenID Connect authorization code flow (the sign-in page's
 * "Sign in with …", src/http/oidc-login.ts): discovery, the authorization URL, the code exchange
 * and the ID token's verification. jose and fetch rather than openid-client: jose is already
 * ours and verifies the ID token's signature against the provider's JWKS (openid-client v6, like
 * oauth4webapi, by default skips that for ID tokens that come from the token endpoint), and the
 * flow is three requests. Every request to the provider is bounded by a timeout.
 *
 * Errors are OidcLoginError with a message meant for the person signing in: never a code, a
 * token, a secret or the provider's own answer.
 */

export class OidcLoginError extends Error {
  constructor(
    /** 400 a stale or foreign answer, 401 a token we refuse, 403 a person we refuse, 404 not configured, 502 the provider failed. */
    readonly status: number,
    /** A short stable reason for logs and tests ("state-mismatch", "audience"…). */
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'OidcLoginError';
  }
}

export interface OidcClientOptions {
  issuer: string;
  clientId: string;
  clientSecret?: string | undefined;
  scopes: string;
  /** Unset: the discovery document's jwks_uri. */
  jwksUrl?: string | undefined;
  roleClaim: string;
  timeoutMs: number;
  clock: Clock;
}

/** Who the verified ID token names. */
export interface OidcIdentity {
  issuer: string;
  subject: string;
  email: string;
  /** The strongest staff role in the role claim, if any. */
  role: Role | undefined;
}

const metadataSchema = z.object({
  issuer: z.string(),
  authorization_endpoint: z.url(),
  token_endpoint: z.url(),
  jwks_uri: z.url(),
  code_challenge_methods_supported: z.array(z.string()).optional(),
  token_endpoint_auth_methods_supported: z.array(z.string()).optional(),
});
type ProviderMetadata = z.infer<typeof metadataSchema>;

const tokenAnswerSchema = z.object({ id_token: z.string().min(1) });

const unreachable = () => new OidcLoginError(502, 'provider-unavailable', 'The sign-in provider cannot be reached right now. Try again in a moment, or sign in with an API key.');
const sameIssuer = (a: string, b: string) => a.replace(/\/$/, '') === b.replace(/\/$/, '');

/** Equal strings in time that does not depend on where they differ (hashed first: lengths may differ). */
export function sameSecret(a: string, b: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(a), digest(b));
}

export const base64url = (bytes: Buffer) => bytes.toString('base64url');
/** RFC 7636 S256: BASE64URL(SHA256(verifier)). */
export const codeChallengeOf = (verifier: string) => base64url(createHash('sha256').update(verifier).digest());

export function createOidcClient(options: OidcClientOptions) {
  let discovered: Promise<ProviderMetadata> | undefined;
  let keys: ReturnType<typeof createRemoteJWKSet> | undefined;

  /** The discovery document, fetched once per process (a failure is retried at the next sign-in). */
  function provider(): Promise<ProviderMetadata> {
    discovered ??= discover().catch((error: unknown) => {
      discovered = undefined;
      throw error;
    });
    return discovered;
  }

  async function discover(): Promise<ProviderMetadata> {
    const url = `${options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs), redirect: 'error' }).catch(() => undefined);
    const body: unknown = response?.ok ? await response.json().catch(() => undefined) : undefined;
    const parsed = metadataSchema.safeParse(body);
    if (!parsed.success) throw unreachable();
    // OIDC Discovery §4.3: the document must name the issuer it was fetched for.
    if (!sameIssuer(parsed.data.issuer, options.issuer)) throw new OidcLoginError(502, 'issuer-mismatch', 'The sign-in provider is misconfigured (its discovery document names another issuer).');
    return parsed.data;
  }

  async function keySet() {
    keys ??= createRemoteJWKSet(new URL(options.jwksUrl ?? (await provider()).jwks_uri), { timeoutDuration: options.timeoutMs, cooldownDuration: 30_000 });
    return keys;
  }

  return {
    /** Where to send the browser: the provider's authorization endpoint with PKCE (S256), state and nonce. */
    async authorizationUrl(request: { state: string; nonce: string; codeVerifier: string; redirectUri: string }): Promise<string> {
      const metadata = await provider();
      const methods = metadata.code_challenge_methods_supported;
      if (methods && !methods.includes('S256')) throw new OidcLoginError(502, 'no-pkce', 'The sign-in provider does not support PKCE (S256), which this sign-in requires.');
      const url = new URL(metadata.authorization_endpoint);
      const params = {
        response_type: 'code',
        client_id: options.clientId,
        redirect_uri: request.redirectUri,
        scope: options.scopes,
        state: request.state,
        nonce: request.nonce,
        code_challenge: codeChallengeOf(request.codeVerifier),
        code_challenge_method: 'S256',
      };
      for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
      return url.toString();
    },

    /** The code exchanged at the token endpoint (with the PKCE verifier): answers the ID token. */
    async exchange(request: { code: string; codeVerifier: string; redirectUri: string }): Promise<string> {
      const metadata = await provider();
      const body = new URLSearchParams({ grant_type: 'authorization_code', code: request.code, redirect_uri: request.redirectUri, code_verifier: request.codeVerifier });
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
      if (options.clientSecret) {
        const methods = metadata.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
        if (methods.includes('client_secret_basic')) {
          // RFC 6749 §2.3.1: id and secret form-encoded, then Basic.
          const pair = `${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`;
          headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
        } else {
          body.set('client_id', options.clientId);
          body.set('client_secret', options.clientSecret);
        }
      } else body.set('client_id', options.clientId);
      const response = await fetch(metadata.token_endpoint, { method: 'POST', headers, body, signal: AbortSignal.timeout(options.timeoutMs), redirect: 'error' }).catch(() => undefined);
      if (!response) throw unreachable();
      const answer: unknown = await response.json().catch(() => undefined);
      if (!response.ok) {
        // invalid_grant: the code was used, expired or issued to someone else. The provider's
        // description is not shown (it is the provider's text, not ours, and may echo the code).
        const error = (answer as { error?: unknown } | undefined)?.error;
        if (response.status === 400 && error === 'invalid_grant') throw new OidcLoginError(400, 'invalid-grant', 'The sign-in code was refused (used already, or expired). Sign in again.');
        throw new OidcLoginError(502, 'token-endpoint', 'The sign-in provider refused to complete the sign-in. Try again, or sign in with an API key.');
      }
      const parsed = tokenAnswerSchema.safeParse(answer);
      if (!parsed.success) throw new OidcLoginError(502, 'no-id-token', 'The sign-in provider answered without an ID token (is the openid scope allowed for this client?).');
      return parsed.data.id_token;
    },

    /**
     * The ID token verified (OIDC Core §3.1.3.7): signed by the provider's keys with an
     * asymmetric algorithm, iss the issuer, aud our client id (azp too when there are several),
     * not expired, the nonce we sent, and an e-mail the provider says it verified.
     */
    async verifyIdToken(idToken: string, nonce: string): Promise<OidcIdentity> {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(idToken, await keySet(), {
          issuer: options.issuer,
          audience: options.clientId,
          algorithms: ALGORITHMS,
          clockTolerance: CLOCK_TOLERANCE_SEC,
          currentDate: options.clock.now(),
          requiredClaims: ['sub', 'exp', 'iat'],
        }));
      } catch (error) {
        throw rejectedToken(error);
      }
      if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== options.clientId) {
        throw new OidcLoginError(401, 'audience', 'The sign-in was meant for another application (audience).');
      }
      if (typeof payload.nonce !== 'string' || !sameSecret(payload.nonce, nonce)) {
        throw new OidcLoginError(401, 'nonce-mismatch', 'The sign-in answer does not belong to this sign-in (nonce). Sign in again.');
      }
      const email = typeof payload.email === 'string' ? payload.email : undefined;
      if (!email) throw new OidcLoginError(403, 'no-email', 'The provider did not share your e-mail address (is the email scope allowed?).');
      // As for bearer tokens (oidc.ts): only an address the provider verified names an agent.
      if (payload.email_verified !== true) throw new OidcLoginError(403, 'email-unverified', 'Your e-mail address is not verified at the sign-in provider; verify it there first.');
      return { issuer: options.issuer, subject: payload.sub!, email, role: roleOf(claimAt(payload, options.roleClaim)) };
    },
  };
}

export type OidcClient = ReturnType<typeof createOidcClient>;

function rejectedToken(error: unknown): OidcLoginError {
  const refuse = (reason: string, message: string) => new OidcLoginError(401, reason, message);
  if (error instanceof errors.JWTExpired) return refuse('expired', 'The sign-in has expired. Sign in again.');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return refuse('audience', 'The sign-in was meant for another application (audience).');
    if (error.claim === 'iss') return refuse('issuer', 'The sign-in came from another provider (issuer).');
    return refuse('claims', `The sign-in token's ${error.claim} claim is not acceptable.`);
  }
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) return unreachable();
  if (error instanceof errors.JOSEError) return refuse('signature', 'The sign-in token could not be verified (signature).');
  // The JWKS could not be fetched: the token may be fine, the provider unreachable.
  return unreachable();
}
