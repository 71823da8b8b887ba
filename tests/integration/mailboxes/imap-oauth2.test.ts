import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailboxes } from '../../../src/modules/mailboxes/mailboxes.table.js';
import type { RunningFetchers } from '../../../src/modules/mailboxes/mailbox.fetchers.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { startDovecot, type Dovecot } from '../../helpers/dovecot.js';
import { until } from '../../helpers/sla.js';
import { complaint, countsFor, createMailbox, fetchers, mailbox, MAILBOX_ENV } from './support.js';

/**
 * OAuth2 (XOAUTH2) against Dovecot's oauth2 passdb: a local token endpoint exchanges the refresh
 * token for an access token (and rotates the refresh token, as Microsoft's does); Dovecot checks
 * the access token at the same server's introspection endpoint.
 */
describe('IMAP mailbox with OAuth2', () => {
  let ctx: TestContext;
  let dovecot: Dovecot;
  let server: Server;
  let url = '';
  const grants: Record<string, string>[] = [];
  let refreshToken = 'refresh-1';
  const issued = new Set<string>();

  const body = (request: IncomingMessage) =>
    new Promise<Record<string, string>>((resolve) => {
      let text = '';
      request.on('data', (chunk: Buffer) => (text += chunk.toString()));
      request.on('end', () => resolve(Object.fromEntries(new URLSearchParams(text))));
    });

  beforeAll(async () => {
    server = createServer(async (request, response) => {
      const form = await body(request);
      response.setHeader('content-type', 'application/json');
      if (request.url === '/token') {
        grants.push(form);
        if (form.grant_type !== 'refresh_token' || form.refresh_token !== refreshToken || form.client_id !== 'desk-client' || form.client_secret !== 'client-secret-1') {
          response.statusCode = 400;
          return response.end(JSON.stringify({ error: 'invalid_grant' }));
        }
        const access = `access-${grants.length}`;
        issued.add(access);
        refreshToken = `refresh-${grants.length + 1}`;
        return response.end(JSON.stringify({ access_token: access, token_type: 'Bearer', expires_in: 3600, refresh_token: refreshToken }));
      }
      if (request.url === '/introspect') {
        return response.end(JSON.stringify(issued.has(form.token ?? '') ? { active: true, username: 'oauth' } : { active: false }));
      }
      response.statusCode = 404;
      response.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dovecot = await startDovecot({ users: ['oauth'], oauth2IntrospectionUrl: `${url}/introspect` });
    ctx = await createTestContext({ env: { ...MAILBOX_ENV, OUTBOUND_ALLOW_HTTP: 'true' } });
  });

  let running: RunningFetchers | undefined;
  afterAll(async () => {
    await running?.close();
    await ctx?.close();
    await dovecot?.stop();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('logs in with an access token from the refresh token, stores the rotated refresh token encrypted, and fetches', async () => {
    const box = await createMailbox(ctx, dovecot, {
      name: 'oauth',
      username: 'oauth',
      auth: { kind: 'oauth2', tokenUrl: `${url}/token`, clientId: 'desk-client', clientSecret: 'client-secret-1', refreshToken: 'refresh-1' },
    });
    expect(JSON.stringify(box)).not.toContain('refresh-1');
    await dovecot.deliver('oauth', [complaint(1, 'oauth'), complaint(2, 'oauth')]);
    running = fetchers(ctx, 'worker-oauth');
    await until(async () => ((await countsFor(ctx, 'oauth')).messages === 2 ? true : undefined), { what: 'fetched with XOAUTH2', timeoutMs: 20_000 });
    const status = (await mailbox(ctx, box.id)).status;
    expect(status.lastError).toBeNull();
    expect(grants[0]).toMatchObject({ grant_type: 'refresh_token', refresh_token: 'refresh-1', client_id: 'desk-client' });
    // The rotated refresh token is what is stored now (sealed: the column never holds it in clear).
    const [row] = await ctx.deps.db.select({ secret: mailboxes.secret }).from(mailboxes).where(eq(mailboxes.id, box.id));
    expect(row!.secret).not.toContain('refresh-');
    expect(row!.secret.startsWith('v2:')).toBe(true);
  });

  it('shows a refused refresh token as the mailbox error', async () => {
    const box = await createMailbox(ctx, dovecot, {
      name: 'revoked',
      username: 'oauth',
      auth: { kind: 'oauth2', tokenUrl: `${url}/token`, clientId: 'desk-client', clientSecret: 'client-secret-1', refreshToken: 'revoked-token' },
    });
    await running!.scan();
    const failed = await until(async () => {
      const m = await mailbox(ctx, box.id);
      return m.status.lastError ? m : undefined;
    }, { what: 'token error recorded', timeoutMs: 15_000 });
    expect(failed.status.lastError).toContain('invalid_grant');
    expect(failed.status.lastError).not.toContain('revoked-token');
  });
});
