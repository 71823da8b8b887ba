/**
 * OAuth2 for IMAP (XOAUTH2): an access token from the refresh-token grant (RFC 6749 §6) at the
 * mailbox's token endpoint, as Microsoft 365 and Google Workspace issue them. Tokens are kept in
 * memory until shortly before they expire; a rotated refresh token is handed back to be stored.
 */
export interface TokenRequest {
  tokenUrl: string;
  clientId: string;
  clientSecret?: string | undefined;
  refreshToken: string;
  scope?: string | null | undefined;
}

export interface AccessToken {
  accessToken: string;
  expiresAt: number;
  /** Present when the endpoint rotated the refresh token: store it, the old one may stop working. */
  refreshToken?: string | undefined;
}

export class TokenEndpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenEndpointError';
  }
}

const TIMEOUT_MS = 15_000;

export async function refreshAccessToken(request: TokenRequest, now: number = Date.now()): Promise<AccessToken> {
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: request.refreshToken, client_id: request.clientId });
  if (request.clientSecret) form.set('client_secret', request.clientSecret);
  if (request.scope) form.set('scope', request.scope);
  let response: Response;
  try {
    response = await fetch(request.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form,
      redirect: 'error',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    // The URL may carry nothing secret (checked on save), but the error text stays generic.
    throw new TokenEndpointError(`token endpoint unreachable: ${error instanceof Error ? error.name : 'error'}`);
  }
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok || typeof body.access_token !== 'string') {
    // The provider's error code (invalid_grant…) tells the operator what to fix; its description may echo input, so it is cut short.
    const code = typeof body.error === 'string' ? body.error.slice(0, 100) : `HTTP ${response.status}`;
    throw new TokenEndpointError(`token endpoint refused the refresh token: ${code}`);
  }
  const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in ?? 3600) || 3600;
  return {
    accessToken: body.access_token,
    expiresAt: now + expiresIn * 1000,
    refreshToken: typeof body.refresh_token === 'string' && body.refresh_token !== request.refreshToken ? body.refresh_token : undefined,
  };
}
