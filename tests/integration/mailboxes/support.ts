import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { startMailboxFetchers, type RunningFetchers } from '../../../src/modules/mailboxes/mailbox.fetchers.js';
import { bearer, type TestContext } from '../../helpers/context.js';
import type { Dovecot } from '../../helpers/dovecot.js';

export const SECRET_KEY = 'test-mailbox-secret-key-0123456789';

/** Settings for fast tests: short backoff and lease; IDLE must deliver, the poll interval is long. */
export const MAILBOX_ENV = {
  MAILBOX_SECRET_KEY: SECRET_KEY,
  MAILBOX_FETCH: 'false',
  MAILBOX_POLL_INTERVAL_MS: '60000',
  MAILBOX_RETRY_MIN_MS: '100',
  MAILBOX_RETRY_MAX_MS: '800',
  MAILBOX_LEASE_SEC: '4',
  MAILBOX_SCAN_INTERVAL_MS: '200',
  // dovecot and the token servers listen on loopback: the SSRF guard would refuse them otherwise.
  OUTBOUND_ALLOW_PRIVATE: 'true',
};

/** A worker process's fetchers, as startWorkers would run them, under a name of our choosing. */
export function fetchers(ctx: TestContext, owner: string): RunningFetchers {
  const c = ctx.config;
  return startMailboxFetchers({
    db: ctx.deps.db,
    clock: ctx.deps.clock,
    logger: pino({ level: 'silent' }),
    intake: ctx.deps.intake,
    owner,
    settings: {
      pollIntervalMs: c.MAILBOX_POLL_INTERVAL_MS,
      leaseSec: c.MAILBOX_LEASE_SEC,
      retryMinMs: c.MAILBOX_RETRY_MIN_MS,
      retryMaxMs: c.MAILBOX_RETRY_MAX_MS,
      bodyLimitBytes: c.EMAIL_BODY_LIMIT_BYTES,
      secretKey: c.MAILBOX_SECRET_KEY!,
      allowPrivate: c.OUTBOUND_ALLOW_PRIVATE,
      allowHttp: c.OUTBOUND_ALLOW_HTTP,
      scanIntervalMs: c.MAILBOX_SCAN_INTERVAL_MS,
      // Small chunks, so a test's backlog crosses chunk boundaries (the service's default is 100).
      chunkMessages: 10,
    },
  });
}

export interface MailboxJson {
  id: string;
  name: string;
  status: {
    connected: boolean;
    fetcher: string | null;
    lastFetchedAt: string | null;
    lastError: string | null;
    consecutiveFailures: number;
    nextAttemptAt: string | null;
    backlog: number;
    ingested: number;
    deadLettered: number;
    uidValidity: string | null;
    lastUid: number;
  };
  [key: string]: unknown;
}

export async function createMailbox(ctx: TestContext, dovecot: Dovecot, body: Record<string, unknown>): Promise<MailboxJson> {
  const response = await ctx.app.inject({
    method: 'POST',
    url: '/v1/mailboxes',
    headers: bearer(ctx.adminToken),
    payload: { host: dovecot.host, port: dovecot.port, tls: 'none', auth: { kind: 'password', password: dovecot.password }, ...body },
  });
  if (response.statusCode !== 201) throw new Error(`mailbox not created: ${response.statusCode} ${response.body}`);
  return response.json();
}

export async function mailbox(ctx: TestContext, id: string): Promise<MailboxJson> {
  const response = await ctx.app.inject({ method: 'GET', url: `/v1/mailboxes/${id}`, headers: bearer(ctx.adminToken) });
  return response.json();
}

/** A plain complaint with a Message-ID under `tag`, so a test counts its own messages. */
export function complaint(i: number, tag: string, extraHeaders: string[] = []): string {
  const headers = [
    `From: Customer ${i} <c${i}@${tag}.example>`,
    'To: support@desk.example',
    `Subject: Complaint ${i} (${tag})`,
    `Message-ID: <m${i}@${tag}.example>`,
    'Date: Sat, 05 Dec 2026 10:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    ...extraHeaders,
  ];
  return `${headers.join('\r\n')}\r\n\r\nMy order number ${i} arrived broken. Please help.\r\n`;
}

/** Messages and tickets a tag's mail became: duplicates would show as messages > distinct ids. */
export async function countsFor(ctx: TestContext, tag: string): Promise<{ messages: number; distinct: number; tickets: number }> {
  const pattern = `%@${tag}.example>`;
  const result = await ctx.deps.db.execute(sql`
    select count(*)::int as messages, count(distinct provider_message_id)::int as distinct, count(distinct ticket_id)::int as tickets
    from messages where provider_message_id like ${pattern}`);
  const row = result.rows[0] as { messages: number; distinct: number; tickets: number };
  return row;
}
