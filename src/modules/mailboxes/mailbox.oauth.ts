import http from 'node:http';
import https from 'node:https';
import { checkOutboundUrlShape, guardedLookup, OutboundUrlError, type OutboundPolicy } from '../../shared/outbound-url.js';

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
/** A token answer is a few KB; more is not read (nor kept in memory). */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * POSTs the form through the webhook SSRF guard: the URL's shape, then the address the socket
 * actually connects to (guardedLookup), so the token endpoint cannot be pointed at the metadata
 * service or an internal host, not even by a DNS answer that changes. No redirects are followed.
 */
function postForm(tokenUrl: string, form: URLSearchParams, policy: OutboundPolicy): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = checkOutboundUrlShape(tokenUrl, policy);
  const payload = form.toString();
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'content-length': String(Buffer.byteLength(payload)) },
        lookup: guardedLookup(policy),
        // A fresh connection per call: a pooled socket would outlive the policy that allowed it.
        agent: false,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) return res.destroy();
          chunks.push(chunk);
        });
        res.on('close', () => {
          let body: Record<string, unknown> = {};
          try {
            const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
          } catch {
            // Not JSON: only the status is reported.
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export async function refreshAccessToken(request: TokenRequest, policy: OutboundPolicy, now: number = Date.now()): Promise<AccessToken> {
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: request.refreshToken, client_id: request.clientId });
  if (request.clientSecret) form.set('client_secret', request.clientSecret);
  if (request.scope) form.set('scope', request.scope);
  let response: { status: number; body: Record<string, unknown> };
  try {
    response = await postForm(request.tokenUrl, form, policy);
  } catch (error) {
    // The guard's refusal names the address class (what the operator must fix); any other error
    // text stays generic, so nothing of an internal service's answer reaches the status.
    if (error instanceof OutboundUrlError) throw new TokenEndpointError(`token endpoint refused by the outbound guard: ${error.message}`);
    throw new TokenEndpointError(`token endpoint unreachable: ${error instanceof Error ? error.name : 'error'}`);
  }
  const { body } = response;
  const ok = response.status >= 200 && response.status < 300;
  if (!ok || typeof body.access_token !== 'string') {
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
