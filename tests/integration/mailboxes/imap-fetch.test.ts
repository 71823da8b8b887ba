import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestContext, type TestContext } from '../../helpers/context.js';
import { startDnsStub, type DnsStub } from '../../helpers/dns-stub.js';
import { startDovecot, type Dovecot } from '../../helpers/dovecot.js';
import { until } from '../../helpers/sla.js';
import { complaint, countsFor, createMailbox, fetchers, mailbox, MAILBOX_ENV } from './support.js';
import type { RunningFetchers } from '../../../src/modules/mailboxes/mailbox.fetchers.js';

/**
 * IMAP intake against a real Dovecot (tests/helpers/dovecot.ts): IDLE, progress across killed
 * connections and restarts, UIDVALIDITY resets, flags and moves, bad credentials, bad mail.
 * Every wait is bounded on a condition; the poll interval is a minute, so only IDLE can make
 * new mail arrive within the waits.
 */
describe('IMAP mailboxes', () => {
  let ctx: TestContext;
  let dovecot: Dovecot;
  let dns: DnsStub;
  const running: RunningFetchers[] = [];
  const start = (owner: string) => {
    const f = fetchers(ctx, owner);
    running.push(f);
    return f;
  };

  beforeAll(async () => {
    dovecot = await startDovecot({ users: ['support', 'sales', 'moves', 'bad', 'big', 'pair', 'backlog', 'quiet'] });
    dns = await startDnsStub();
    ctx = await createTestContext({ env: { ...MAILBOX_ENV, SENDER_AUTHENTICATION: 'true', DNS_SERVERS: dns.address, DNS_TIMEOUT_MS: '500' } });
  });

  afterAll(async () => {
    await Promise.all(running.map((f) => f.close()));
    await ctx?.close();
    await dovecot?.stop();
    await dns?.close();
  });

  it('turns mail delivered to the mailbox into tickets within seconds through IDLE, flags it seen, and shows its status without secrets', async () => {
    const box = await createMailbox(ctx, dovecot, { name: 'support', username: 'support', defaultPriority: 'high' });
    start('worker-a');
    await until(async () => ((await mailbox(ctx, box.id)).status.lastFetchedAt ? true : undefined), { what: 'first fetch', timeoutMs: 15_000 });

    await dovecot.deliver('support', [complaint(1, 'idle'), complaint(2, 'idle'), complaint(3, 'idle')]);
    await until(async () => ((await countsFor(ctx, 'idle')).messages === 3 ? true : undefined), { what: '3 tickets through IDLE', timeoutMs: 10_000 });
    expect(await countsFor(ctx, 'idle')).toEqual({ messages: 3, distinct: 3, tickets: 3 });
    const [ticket] = (await ctx.deps.db.execute(sql`select t.priority, t.channel from tickets t join messages m on m.ticket_id = t.id where m.provider_message_id = '<m1@idle.example>'`)).rows;
    expect(ticket).toEqual({ priority: 'high', channel: 'email' });

    // Processed mail is flagged \Seen on the server.
    const client = await dovecot.client('support');
    try {
      const lock = await client.getMailboxLock('INBOX');
      try {
        await until(async () => ((await client.search({ seen: false }, { uid: true })) || []).length === 0 || undefined, { what: 'all seen' });
        expect(((await client.search({ seen: true }, { uid: true })) || []).length).toBe(3);
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }

    const status = await until(async () => {
      const m = await mailbox(ctx, box.id);
      return m.status.lastUid === 3 ? m : undefined;
    });
    expect(status.status).toMatchObject({ connected: true, lastError: null, backlog: 0, ingested: 3, fetcher: 'worker-a' });
    expect(status.status.uidValidity).toMatch(/^\d+$/);
    const raw = JSON.stringify(await ctx.app.inject({ method: 'GET', url: '/v1/mailboxes', headers: bearer(ctx.adminToken) }).then((r) => r.json()));
    expect(raw).not.toContain(dovecot.password);
    expect(raw).not.toContain('secret');
  });

  it('loses and duplicates nothing when the connection is killed mid-fetch and the service restarts, with two processes competing', async () => {
    const box = await createMailbox(ctx, dovecot, { name: 'sales', username: 'sales' });
    await dovecot.deliver('sales', Array.from({ length: 150 }, (_, i) => complaint(i, 'cut')));
    const first = start('worker-b');
    await until(async () => ((await countsFor(ctx, 'cut')).messages >= 15 ? true : undefined), { what: 'fetch under way', timeoutMs: 20_000 });
    // The server drops every session of the user mid-fetch.
    await dovecot.kick('sales');
    await until(async () => ((await mailbox(ctx, box.id)).status.consecutiveFailures >= 0 && (await countsFor(ctx, 'cut')).messages >= 60 ? true : undefined), {
      what: 'resumed after the cut',
      timeoutMs: 30_000,
    });
    // A restart: this process stops, two others start and compete for the lease.
    await first.close();
    start('worker-c');
    start('worker-d');
    await until(async () => ((await countsFor(ctx, 'cut')).messages === 150 ? true : undefined), { what: 'all 150 taken in', timeoutMs: 60_000 });
    expect(await countsFor(ctx, 'cut')).toEqual({ messages: 150, distinct: 150, tickets: 150 });
    const status = (await mailbox(ctx, box.id)).status;
    // Whoever fetches now (every running "process" competes for the lease), it is not the stopped one.
    expect(status.fetcher).not.toBe('worker-b');
    await until(async () => ((await mailbox(ctx, box.id)).status.lastUid === 150 ? true : undefined), { what: 'progress at the end' });
  });

  it('moves processed mail to another folder, and re-reads a folder whose UIDVALIDITY changed without duplicates', async () => {
    const mails = [1, 2, 3, 4, 5].map((i) => complaint(i, 'uidv'));
    await dovecot.deliver('moves', mails, 'Support');
    const box = await createMailbox(ctx, dovecot, { name: 'moves', username: 'moves', folder: 'Support', afterIngest: 'move', moveTo: 'Done' });
    start('worker-e');
    await until(async () => ((await countsFor(ctx, 'uidv')).messages === 5 ? true : undefined), { what: '5 taken in', timeoutMs: 20_000 });
    const folderCounts = async () => {
      const c = await dovecot.client('moves');
      try {
        const support = await c.status('Support', { messages: true });
        const done = await c.status('Done', { messages: true });
        return { support: support ? support.messages : -1, done: done ? done.messages : -1 };
      } finally {
        await c.logout();
      }
    };
    await until(async () => ((await folderCounts()).done === 5 ? true : undefined), { what: 'moved to Done' });
    expect(await folderCounts()).toEqual({ support: 0, done: 5 });
    const before = (await mailbox(ctx, box.id)).status.uidValidity;

    // The folder is recreated on the server: a new UIDVALIDITY, the same five messages and two new ones.
    // Every "process" stops first: one idling in the folder would only notice at its next poll.
    await Promise.all(running.splice(0).map((f) => f.close()));
    const c = await dovecot.client('moves');
    await c.mailboxDelete('Support');
    await c.logout();
    await dovecot.deliver('moves', [...mails, complaint(6, 'uidv'), complaint(7, 'uidv')], 'Support');
    start('worker-f');
    await until(async () => ((await countsFor(ctx, 'uidv')).messages === 7 ? true : undefined), { what: '7 taken in', timeoutMs: 60_000 });
    await until(async () => ((await folderCounts()).done === 12 ? true : undefined), { what: 're-read mail moved' });
    expect(await countsFor(ctx, 'uidv')).toEqual({ messages: 7, distinct: 7, tickets: 7 });
    const after = (await mailbox(ctx, box.id)).status;
    expect(after.uidValidity).not.toBe(before);
    expect(after.lastUid).toBe(7);
  });

  it('shows wrong credentials and an unreachable host as errors, retries with backoff (no tight loop), and other mailboxes keep working', async () => {
    const wrong = await createMailbox(ctx, dovecot, { name: 'wrong password', username: 'bad', auth: { kind: 'password', password: 'not-the-password' } });
    const closed = await createMailbox(ctx, dovecot, { name: 'nobody listens', username: 'bad', port: 1 });
    start('worker-g');
    const failing = await until(async () => {
      const m = await mailbox(ctx, wrong.id);
      return m.status.consecutiveFailures >= 2 ? m : undefined;
    }, { what: 'two failed attempts', timeoutMs: 20_000 });
    expect(failing.status.connected).toBe(false);
    expect(failing.status.lastError).toMatch(/authentication/i);
    expect(failing.status.nextAttemptAt).not.toBeNull();
    const unreachable = await until(async () => {
      const m = await mailbox(ctx, closed.id);
      return m.status.lastError ? m : undefined;
    }, { what: 'connection refused recorded', timeoutMs: 20_000 });
    expect(unreachable.status.lastError).toMatch(/ECONNREFUSED|connect/i);

    // Meanwhile the healthy mailbox still takes mail in through IDLE.
    await dovecot.deliver('support', [complaint(9, 'still')]);
    await until(async () => ((await countsFor(ctx, 'still')).messages === 1 ? true : undefined), { what: 'healthy mailbox unaffected', timeoutMs: 10_000 });

    // Backoff: attempts spread out (100 ms doubling to 800 ms), never hundreds a second.
    const startedAt = Date.now();
    const attemptsBefore = (await mailbox(ctx, wrong.id)).status.consecutiveFailures;
    await until(async () => ((await mailbox(ctx, wrong.id)).status.consecutiveFailures >= attemptsBefore + 2 ? true : undefined), { what: 'more attempts', timeoutMs: 30_000 });
    const elapsed = Date.now() - startedAt;
    const attempts = (await mailbox(ctx, wrong.id)).status.consecutiveFailures - attemptsBefore;
    expect(attempts / Math.max(elapsed / 1000, 0.1)).toBeLessThan(25);
  });

  it('shows a TLS failure and a folder missing on the server as errors', async () => {
    // Implicit TLS against a plain IMAP port: the handshake fails.
    const tls = await createMailbox(ctx, dovecot, { name: 'tls mismatch', username: 'bad', tls: 'implicit' });
    const missing = await createMailbox(ctx, dovecot, { name: 'no such folder', username: 'support', folder: 'Deleted/Folder' });
    start('worker-tls');
    const tlsFailed = await until(async () => {
      const m = await mailbox(ctx, tls.id);
      return m.status.lastError ? m : undefined;
    }, { what: 'TLS failure recorded', timeoutMs: 30_000 });
    expect(tlsFailed.status.connected).toBe(false);
    const folderFailed = await until(async () => {
      const m = await mailbox(ctx, missing.id);
      return m.status.lastError ? m : undefined;
    }, { what: 'missing folder recorded', timeoutMs: 30_000 });
    expect(folderFailed.status.consecutiveFailures).toBeGreaterThanOrEqual(1);
    expect(folderFailed.status.connected).toBe(false);
  });

  it('keeps a 30 MB message and a message without a sender as dead letters and moves on', async () => {
    const box = await createMailbox(ctx, dovecot, { name: 'big', username: 'big' });
    const huge = `${complaint(2, 'big')}${'x'.repeat(76)}\r\n`.repeat(1).concat('y'.repeat(30 * 1024 * 1024));
    const noFrom = 'To: support@desk.example\r\nSubject: nobody\r\nMessage-ID: <nofrom@big.example>\r\n\r\nwho am I\r\n';
    await dovecot.deliver('big', [complaint(1, 'big'), huge, noFrom, complaint(4, 'big')]);
    start('worker-h');
    const done = await until(async () => {
      const m = await mailbox(ctx, box.id);
      return m.status.lastUid === 4 ? m : undefined;
    }, { what: 'all four handled', timeoutMs: 60_000 });
    expect(done.status).toMatchObject({ ingested: 2, deadLettered: 2 });
    expect(await countsFor(ctx, 'big')).toEqual({ messages: 2, distinct: 2, tickets: 2 });
    const letters = await ctx.deps.db.execute(sql`select reason, length(body)::int as size from dead_letters where reason like 'mailbox big,%' order by reason`);
    expect(letters.rows).toHaveLength(2);
    expect(letters.rows.some((r) => String((r as { reason: string }).reason).includes('EMAIL_BODY_LIMIT_BYTES'))).toBe(true);
  });

  it('takes in a backlog of many chunks with a malformed message in the middle (dead-lettered, neighbours in, progress past it) while another mailbox keeps its pace', async () => {
    // Chunks are 10 messages here (support.ts): 400 messages are 40 chunks.
    const size = 400;
    const broken = 200;
    const mails = Array.from({ length: size }, (_, i) => (i + 1 === broken ? 'To: support@desk.example\r\nSubject: no sender\r\nMessage-ID: <broken@backlog.example>\r\n\r\nwho wrote this?\r\n' : complaint(i + 1, 'backlog')));
    await dovecot.deliver('backlog', mails);
    const quiet = await createMailbox(ctx, dovecot, { name: 'quiet', username: 'quiet' });
    start('worker-backlog');
    await until(async () => ((await mailbox(ctx, quiet.id)).status.lastFetchedAt ? true : undefined), { what: 'quiet mailbox idling', timeoutMs: 20_000 });
    const box = await createMailbox(ctx, dovecot, { name: 'backlog', username: 'backlog' });
    await until(async () => ((await countsFor(ctx, 'backlog')).messages >= 20 ? true : undefined), { what: 'backlog under way', timeoutMs: 30_000 });

    // Mail for the quiet mailbox becomes a ticket while the backlog is still being taken in. The
    // test holds the backlog's progress row, so the backlog stalls mid-way however fast this
    // machine is (a stalled mailbox is the hardest case of a busy one): its next commit waits on
    // the row, and the quiet mailbox must not wait behind it.
    const holder = new pg.Client({ connectionString: ctx.databaseUrl });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('select id from mailboxes where id = $1 for update', [box.id]);
      const held = (await countsFor(ctx, 'backlog')).messages;
      expect(held).toBeLessThan(size - 1);
      await dovecot.deliver('quiet', [complaint(1, 'quietbox')]);
      await until(async () => ((await countsFor(ctx, 'quietbox')).messages === 1 ? true : undefined), { what: 'quiet mailbox served', timeoutMs: 30_000 });
      expect((await countsFor(ctx, 'backlog')).messages).toBe(held);
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await holder.end();
    }

    const done = await until(async () => {
      const m = await mailbox(ctx, box.id);
      return m.status.lastUid === size ? m : undefined;
    }, { what: 'the whole backlog handled', timeoutMs: 120_000 });
    expect(done.status).toMatchObject({ ingested: size - 1, deadLettered: 1, backlog: 0 });
    expect(await countsFor(ctx, 'backlog')).toEqual({ messages: size - 1, distinct: size - 1, tickets: size - 1 });
    const letters = await ctx.deps.db.execute(sql`select reason from dead_letters where reason like ${`mailbox backlog, UID ${broken}:%`}`);
    expect(letters.rows).toHaveLength(1);
    // Everything, the dead letter too, is flagged on the server.
    const client = await dovecot.client('backlog');
    try {
      await until(async () => {
        const status = await client.status('INBOX', { unseen: true });
        return status && status.unseen === 0 ? true : undefined;
      }, { what: 'all flagged seen' });
    } finally {
      await client.logout();
    }
  }, 240_000);

  it('refuses bad mailbox input with problems naming the field, and 404s an unknown mailbox', async () => {
    const post = (payload: Record<string, unknown>) => ctx.app.inject({ method: 'POST', url: '/v1/mailboxes', headers: bearer(ctx.adminToken), payload });
    const base = { name: 'x', host: 'imap.example.com', username: 'u', auth: { kind: 'password', password: 'p' } };
    const plain = await post({ ...base, tls: 'none' });
    expect(plain.statusCode).toBe(400);
    expect(plain.json().errors[0].field).toBe('body.tls');
    const move = await post({ ...base, afterIngest: 'move' });
    expect(move.json().errors[0].field).toBe('body.moveTo');
    const token = await post({ ...base, auth: { kind: 'oauth2', tokenUrl: 'ftp://x', clientId: 'c', refreshToken: 'r' } });
    expect(token.statusCode).toBe(400);
    const missing = await post({ name: 'y', host: 'h' });
    expect(missing.statusCode).toBe(400);
    expect(missing.headers['content-type']).toContain('application/problem+json');
    const unknown = await ctx.app.inject({ method: 'GET', url: '/v1/mailboxes/00000000-0000-4000-8000-000000000000', headers: bearer(ctx.adminToken) });
    expect(unknown.statusCode).toBe(404);
  });
});
