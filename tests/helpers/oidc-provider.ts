import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';

/**
 * A small, real OpenID provider for tests: discovery, JWKS, /authorize that signs the person in
 * at once (no login form) and redirects back with a code, and /token that checks the code, the
 * PKCE verifier, the redirect URI and the client's credentials before answering an ID token
 * signed with a key made here. What the next sign-in yields is set through `next` (the user's
 * claims, a consent refusal, a tampered nonce or audience…).
 *
 * Its issuer is http://localhost:<port>: a site other than the app's 127.0.0.1, so a browser
 * treats the way back as a cross-site navigation, as with a real provider.
 */
export interface NextSignIn {
  /** Claims of the ID token (email, email_verified, role, …) over the defaults. */
  claims?: JWTPayload;
  /** Refuse consent: redirect back with error=access_denied. */
  deny?: boolean;
  /** Put this nonce in the ID token instead of the one asked for. */
  nonce?: string;
  /** Put this audience in the ID token instead of the client id. */
  audience?: string | string[];
  /** Seconds from now (the test's clock, `now`) until the ID token expires. */
  expiresInSec?: number;
  /** The instant the token is issued at (the app may run on a test clock). */
  now?: Date;
}

export interface ProviderOptions {
  clientId?: string;
  clientSecret?: string;
  /**
   * /authorize answers a consent page whose "Approve" link (#approve) goes back, as a real
   * provider's login page does, instead of redirecting at once: the way back is then a
   * navigation begun by the provider's page (another site), not by ours.
   */
  consentPage?: boolean;
}

export interface TestOidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The parameters of the last /authorize request. */
  lastAuthorize: URLSearchParams | undefined;
  /** How many token requests were refused, and why (for assertions). */
  tokenRefusals: string[];
  next: NextSignIn;
  close(): Promise<void>;
}

export async function startOidcProvider(options: ProviderOptions = {}): Promise<TestOidcProvider> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-oidc-1', alg: 'RS256', use: 'sig' };
  const clientId = options.clientId ?? 'complaint-desk-web';
  const clientSecret = options.clientSecret ?? randomBytes(18).toString('base64url');
  const codes = new Map<string, { clientId: string; redirectUri: string; challenge: string; nonce: string; signIn: NextSignIn }>();

  const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => resolve(body));
    });

  const provider: TestOidcProvider = {
    issuer: '',
    clientId,
    clientSecret,
    lastAuthorize: undefined,
    tokenRefusals: [],
    next: {},
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', provider.issuer);
    if (req.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
      return json(res, 200, {
        issuer: provider.issuer,
        authorization_endpoint: `${provider.issuer}/authorize`,
        token_endpoint: `${provider.issuer}/token`,
        jwks_uri: `${provider.issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic'],
      });
    }
    if (req.method === 'GET' && url.pathname === '/jwks') return json(res, 200, { keys: [jwk] });
    if (req.method === 'GET' && url.pathname === '/authorize') {
      const q = url.searchParams;
      provider.lastAuthorize = q;
      const redirect = new URL(q.get('redirect_uri') ?? '');
      const signIn = provider.next;
      provider.next = {};
      if (q.get('client_id') !== clientId || q.get('response_type') !== 'code' || q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge')) {
        return res.writeHead(400, { 'content-type': 'text/plain' }).end('bad authorization request');
      }
      if (signIn.deny) redirect.searchParams.set('error', 'access_denied');
      else {
        const code = randomBytes(24).toString('base64url');
        codes.set(code, { clientId, redirectUri: q.get('redirect_uri') ?? '', challenge: q.get('code_challenge')!, nonce: q.get('nonce') ?? '', signIn });
        redirect.searchParams.set('code', code);
      }
      redirect.searchParams.set('state', q.get('state') ?? '');
      if (options.consentPage) {
        const href = redirect.toString().replace(/&/g, '&amp;').replace(/"/g, '&quot;');
        return res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><link rel="icon" href="data:,"><title>Test IdP</title><p>Let complaint-desk know who you are?</p><a id="approve" href="${href}">Approve</a>`);
      }
      return res.writeHead(302, { location: redirect.toString() }).end();
    }
    if (req.method === 'POST' && url.pathname === '/token') {
      void readBody(req).then(async (raw) => {
        const form = new URLSearchParams(raw);
        const refuse = (why: string, error = 'invalid_grant') => {
          provider.tokenRefusals.push(why);
          json(res, error === 'invalid_client' ? 401 : 400, { error });
        };
        const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        const [id, secret] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':').map(decodeURIComponent) : [form.get('client_id'), form.get('client_secret')];
        if (id !== clientId || secret !== clientSecret) return refuse('client', 'invalid_client');
        const code = form.get('code') ?? '';
        const grant = codes.get(code);
        codes.delete(code);
        if (form.get('grant_type') !== 'authorization_code' || !grant) return refuse('code');
        if (form.get('redirect_uri') !== grant.redirectUri) return refuse('redirect_uri');
        const challenge = createHash('sha256').update(form.get('code_verifier') ?? '').digest('base64url');
        if (challenge !== grant.challenge) return refuse('pkce');
        const { signIn } = grant;
        const now = Math.floor((signIn.now ?? new Date()).getTime() / 1000);
        const idToken = await new SignJWT({ email_verified: true, nonce: signIn.nonce ?? grant.nonce, ...signIn.claims })
          .setProtectedHeader({ alg: 'RS256', kid: jwk.kid })
          .setIssuer(provider.issuer)
          .setAudience(signIn.audience ?? clientId)
          .setSubject(String(signIn.claims?.sub ?? 'person-1'))
          .setIssuedAt(now)
          .setExpirationTime(now + (signIn.expiresInSec ?? 300))
          .sign(privateKey);
        json(res, 200, { access_token: randomBytes(16).toString('base64url'), token_type: 'Bearer', expires_in: 300, id_token: idToken });
      });
      return;
    }
    res.writeHead(404).end();
  });
  // No host: both IPv4 and IPv6 loopback answer for "localhost", whichever the client tries first.
  await new Promise<void>((resolve) => server.listen(0, resolve));
  provider.issuer = `http://localhost:${(server.address() as AddressInfo).port}`;
  return provider;
}
