import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { client, createAgent, expectProblem, type AgentJson } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';

/** A local OIDC issuer: discovery document and JWKS over node:http; tokens signed with jose. */
async function startIssuer() {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
  let jwksRequests = 0;
  const server: Server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks.json` }));
    } else if (req.url === '/jwks.json') {
      jwksRequests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    privateKey,
    jwksRequests: () => jwksRequests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
const AUDIENCE = 'complaint-desk-api';
let ctx: TestContext;
let idp: Awaited<ReturnType<typeof startIssuer>>;
let agent: AgentJson;

async function jwt(claims: JWTPayload, options: { issuer?: string; audience?: string; expires?: string | number; key?: SigningKey } = {}) {
  return new SignJWT({ email_verified: true, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'test-key-1' })
    .setIssuer(options.issuer ?? idp.issuer)
    .setAudience(options.audience ?? AUDIENCE)
    .setSubject('user-1')
    .setIssuedAt()
    .setExpirationTime(options.expires ?? '5m')
    .sign(options.key ?? idp.privateKey);
}

beforeAll(async () => {
  idp = await startIssuer();
  ctx = await createTestContext({ env: { OIDC_ISSUER: idp.issuer, OIDC_AUDIENCE: AUDIENCE } });
  agent = await createAgent(ctx, { email: `Oidc.${Date.now()}@desk.example` });
});
afterAll(async () => {
  await ctx?.close();
  await idp?.close();
});

describe('OIDC bearer tokens (OIDC_ISSUER, OIDC_AUDIENCE)', () => {
  it("a JWT from the issuer authenticates as the agent with its e-mail (case aside), with the role claim's role", async () => {
    const token = await jwt({ email: agent.email.toLowerCase(), role: 'supervisor' });
    const me = await client(ctx, token).get('/v1/me');
    expect(me.statusCode, me.body).toBe(200);
    expect(me.json<{ id: string }>().id).toBe(agent.id);
    // A supervisor route (the blocklist).
    expect((await client(ctx, token).get('/v1/blocklist')).statusCode).toBe(200);
    // The keys were fetched once (discovery, then the JWKS) and are cached.
    expect((await client(ctx, token).get('/v1/me')).statusCode).toBe(200);
    expect(idp.jwksRequests()).toBe(1);
  });

  it('the role comes from the claim: an agent role may not use a supervisor route; a list takes its strongest role', async () => {
    expectProblem(await client(ctx, await jwt({ email: agent.email, role: 'agent' })).get('/v1/blocklist'), 403);
    expect((await client(ctx, await jwt({ email: agent.email, role: ['agent', 'supervisor'] })).get('/v1/blocklist')).statusCode).toBe(200);
    expectProblem(await client(ctx, await jwt({ email: agent.email })).get('/v1/me'), 403);
    expectProblem(await client(ctx, await jwt({ email: agent.email, role: 'root' })).get('/v1/me'), 403);
  });

  it('API keys keep working beside OIDC', async () => {
    expect((await client(ctx).get('/v1/tickets')).statusCode).toBe(200);
  });

  it('refuses alg none, another issuer, another key, another audience, an expired token, HS256 and an unknown e-mail with a 401 problem', async () => {
    const claims = { email: agent.email, role: 'admin', iss: idp.issuer, aud: AUDIENCE, sub: 'user-1', exp: Math.floor(Date.now() / 1000) + 300 };
    const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsecured = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    const otherKey = (await generateKeyPair('RS256')).privateKey;
    const hs256 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('a-shared-secret-a-shared-secret-xx'));
    const cases: [string, string, RegExp][] = [
      ['alg none', unsecured, /not a valid|algorithm/],
      ['another issuer', await jwt({ email: agent.email, role: 'admin' }, { issuer: 'https://evil.example' }), /issuer/],
      ['another key', await jwt({ email: agent.email, role: 'admin' }, { key: otherKey }), /signature/],
      ['another audience', await jwt({ email: agent.email, role: 'admin' }, { audience: 'someone-else' }), /audience/],
      ['expired', await jwt({ email: agent.email, role: 'admin' }, { expires: Math.floor(Date.now() / 1000) - 3600 }), /expired/],
      ['HS256', hs256, /algorithm/],
      ['unknown e-mail', await jwt({ email: 'nobody@desk.example', role: 'admin' }), /agent/],
      ['e-mail not verified', await jwt({ email: agent.email, role: 'admin', email_verified: false }), /verified/],
      ['e-mail verification unknown', await jwt({ email: agent.email, role: 'admin', email_verified: undefined }), /verified/],
    ];
    for (const [what, token, detail] of cases) {
      const res = await client(ctx, token).get('/v1/me');
      const problem = expectProblem(res, 401, { code: 'invalid-token', field: 'header.authorization' });
      expect(problem.detail, what).toMatch(detail);
      expect(res.headers['www-authenticate'], what).toMatch(/^Bearer/);
      expect(res.body, what).not.toContain(token);
    }
  });

  it('OIDC_ISSUER and OIDC_AUDIENCE go together', () => {
    expect(() => loadConfig({ OIDC_ISSUER: 'https://id.example' })).toThrow(ConfigError);
    expect(() => loadConfig({ OIDC_AUDIENCE: 'x' })).toThrow(ConfigError);
  });
});
