import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailboxKey, openSecret, sealSecret } from '../../../src/modules/mailboxes/mailbox.secrets.js';
import { mailboxes } from '../../../src/modules/mailboxes/mailboxes.table.js';
import type { RunningFetchers } from '../../../src/modules/mailboxes/mailbox.fetchers.js';
import { bearer, createTestContext, type TestContext } from '../../helpers/context.js';
import type { Dovecot } from '../../helpers/dovecot.js';
import { until } from '../../helpers/sla.js';
import { createMailbox, fetchers, mailbox, MAILBOX_ENV, SECRET_KEY } from './support.js';

/** No IMAP server is needed to save a mailbox (MAILBOX_FETCH is off): only where it would go. */
const nowhere = { host: '127.0.0.1', port: 1, password: 'stored-password-1' } as unknown as Dovecot;

interface Problem {
  errors?: { field: string; message: string }[];
}

describe('mailbox credentials stay with their server (security review)', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ env: MAILBOX_ENV });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  const patch = (id: string, payload: Record<string, unknown>) => ctx.app.inject({ method: 'PATCH', url: `/v1/mailboxes/${id}`, headers: bearer(ctx.adminToken), payload });

  it('refuses a change of host, port or tls without new credentials (422 naming body.auth)', async () => {
    const box = await createMailbox(ctx, nowhere, { name: 'redirect', username: 'alice' });
    for (const change of [{ host: '127.0.0.2' }, { port: 2 }, { tls: 'starttls' }]) {
      const response = await patch(box.id, change);
      expect(response.statusCode, JSON.stringify(change)).toBe(422);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect((response.json() as Problem).errors?.[0]?.field).toBe('body.auth');
    }
    // Nothing changed: the stored credential still belongs to the original server.
    expect(await mailbox(ctx, box.id)).toMatchObject({ host: '127.0.0.1', port: 1, tls: 'none' });
    // Settings that do not move the credential need no auth.
    expect((await patch(box.id, { name: 'redirect-renamed', port: 1, host: '127.0.0.1' })).statusCode).toBe(200);
  });

  it('accepts a new server with new credentials, sealed for that host only', async () => {
    const box = await createMailbox(ctx, nowhere, { name: 'moved', username: 'alice' });
    const response = await patch(box.id, { host: '127.0.0.2', port: 2, auth: { kind: 'password', password: 'new-password-2' } });
    expect(response.statusCode).toBe(200);
    const [row] = await ctx.deps.db.select().from(mailboxes).where(eq(mailboxes.id, box.id));
    const key = mailboxKey(SECRET_KEY);
    expect(openSecret(key, box.id, '127.0.0.2', row!.secret)).toEqual({ kind: 'password', password: 'new-password-2' });
    // The host is in the additional data: the same row pointed elsewhere does not decrypt.
    expect(() => openSecret(key, box.id, 'imap.attacker.example', row!.secret)).toThrow();
  });
});

describe('mailbox SSRF guard (OUTBOUND_ALLOW_PRIVATE off)', () => {
  let ctx: TestContext;
  let tokenServer: HttpServer;
  let tokenUrl = '';
  let tokenRequests = 0;
  let imapServer: TcpServer;
  let imapPort = 0;
  let imapConnections = 0;
  let running: RunningFetchers | undefined;

  beforeAll(async () => {
    tokenServer = createHttpServer((_request, response) => {
      tokenRequests++;
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ access_token: 'internal-secret-token', expires_in: 3600 }));
    });
    await new Promise<void>((resolve) => tokenServer.listen(0, '127.0.0.1', resolve));
    tokenUrl = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/token`;
    imapServer = createTcpServer((socket) => {
      imapConnections++;
      socket.end('* OK internal service\r\n');
    });
    await new Promise<void>((resolve) => imapServer.listen(0, '127.0.0.1', resolve));
    imapPort = (imapServer.address() as AddressInfo).port;
    ctx = await createTestContext({ env: { ...MAILBOX_ENV, OUTBOUND_ALLOW_PRIVATE: 'false', OUTBOUND_ALLOW_HTTP: 'true' } });
  });
  afterAll(async () => {
    await running?.close();
    await ctx?.close();
    await new Promise((resolve) => tokenServer?.close(resolve));
    await new Promise((resolve) => imapServer?.close(resolve));
  });

  const post = (payload: Record<string, unknown>) =>
    ctx.app.inject({ method: 'POST', url: '/v1/mailboxes', headers: bearer(ctx.adminToken), payload: { name: `m-${randomUUID()}`, username: 'u', port: 993, tls: 'implicit', ...payload } });

  it('refuses internal IMAP hosts and token endpoints when they are saved', async () => {
    const password = { kind: 'password', password: 'pw' };
    for (const host of ['127.0.0.1', 'localhost', '169.254.169.254', '10.0.0.5', '::1']) {
      const response = await post({ host, auth: password });
      expect(response.statusCode, host).toBe(400);
      expect((response.json() as Problem).errors?.[0]?.field, host).toBe('body.host');
    }
    const oauth = await post({ host: '93.184.215.14', auth: { kind: 'oauth2', tokenUrl, clientId: 'c', refreshToken: 'r' } });
    expect(oauth.statusCode).toBe(400);
    expect((oauth.json() as Problem).errors?.[0]?.field).toBe('body.auth.tokenUrl');
    expect(tokenRequests).toBe(0);
  });

  it('checks again when connecting: a stored internal host or token endpoint is never contacted', async () => {
    const key = mailboxKey(SECRET_KEY);
    const now = new Date();
    // Rows as they would be after a DNS answer changed, or saved under an older, laxer version.
    const passwordId = randomUUID();
    const oauthId = randomUUID();
    await ctx.deps.db.insert(mailboxes).values([
      { id: passwordId, name: 'internal-imap', host: '127.0.0.1', port: imapPort, tls: 'none', username: 'u', authKind: 'password', secret: sealSecret(key, passwordId, '127.0.0.1', { kind: 'password', password: 'pw' }), createdAt: now, updatedAt: now },
      {
        id: oauthId,
        name: 'internal-token',
        host: '93.184.215.14',
        port: 993,
        tls: 'implicit',
        username: 'u',
        authKind: 'oauth2',
        oauthTokenUrl: tokenUrl,
        oauthClientId: 'c',
        secret: sealSecret(key, oauthId, '93.184.215.14', { kind: 'oauth2', refreshToken: 'r' }),
        createdAt: now,
        updatedAt: now,
      },
    ]);
    running = fetchers(ctx, 'worker-ssrf');
    const imapError = await until(async () => (await mailbox(ctx, passwordId)).status.lastError ?? undefined, { what: 'internal IMAP host refused', timeoutMs: 15_000 });
    expect(imapError).toMatch(/loopback address/);
    const tokenError = await until(async () => (await mailbox(ctx, oauthId)).status.lastError ?? undefined, { what: 'internal token endpoint refused', timeoutMs: 15_000 });
    expect(tokenError).toMatch(/loopback address/);
    expect(tokenError).not.toContain('internal-secret-token');
    expect(imapConnections).toBe(0);
    expect(tokenRequests).toBe(0);
  });
});
