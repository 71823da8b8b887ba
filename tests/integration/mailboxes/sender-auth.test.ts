import { generateKeyPairSync } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { dkimSign } from 'mailauth';
import nodemailer from 'nodemailer';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpListener, type SmtpListener } from '../../../src/channels/email/smtp-listener.js';
import { bearer, createTestContext, type TestContext } from '../../helpers/context.js';
import { startDnsStub, type DnsStub } from '../../helpers/dns-stub.js';
import { CHANNEL_ENV, mailgunFields, postEmail, postMailgun } from '../../helpers/webhooks.js';

/**
 * Sender authentication (issue 19): a DKIM-signed mail from the real customer and forged ones
 * claiming the same From, over the raw webhook, SMTP (nodemailer to our listener) and Mailgun.
 * Keys are generated here; DNS (DKIM key, SPF, DMARC) is answered by a stub on a loopback port.
 */
describe('sender authentication', () => {
  let ctx: TestContext;
  let dns: DnsStub;
  let smtp: SmtpListener;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicB64 = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const strangerKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

  beforeAll(async () => {
    dns = await startDnsStub();
    // bank.example: DKIM key, SPF naming one address that is not ours, DMARC reject.
    dns.txt('sel._domainkey.bank.example', `v=DKIM1; k=rsa; p=${publicB64}`);
    dns.txt('bank.example', 'v=spf1 ip4:192.0.2.10 -all');
    dns.txt('_dmarc.bank.example', 'v=DMARC1; p=reject');
    // shop.example: SPF only, no DMARC record.
    dns.txt('shop.example', 'v=spf1 ip4:192.0.2.20 -all');
    ctx = await createTestContext({
      env: {
        ...CHANNEL_ENV,
        SENDER_AUTHENTICATION: 'true',
        DNS_SERVERS: dns.address,
        DNS_TIMEOUT_MS: '1000',
        TRUSTED_AUTHSERV_IDS: 'mx.trusted.example',
        EMAIL_BODY_LIMIT_BYTES: '200000',
      },
    });
    smtp = await startSmtpListener({
      port: 0,
      host: '127.0.0.1',
      hostname: 'mx.desk.example',
      acceptRecipients: ['desk.example', 'complaints@other.example'],
      sizeLimitBytes: ctx.config.EMAIL_BODY_LIMIT_BYTES,
      intake: ctx.deps.intake,
      clock: ctx.deps.clock,
      logger: pino({ level: 'silent' }),
    });
  });

  afterAll(async () => {
    await smtp?.close();
    await ctx?.close();
    await dns?.close();
  });

  const mail = (o: { from: string; id: string; subject: string; inReplyTo?: string; extra?: string[] }) =>
    [
      ...(o.extra ?? []),
      `From: Dana <${o.from}>`,
      'To: support@desk.example',
      `Subject: ${o.subject}`,
      `Message-ID: <${o.id}>`,
      ...(o.inReplyTo ? [`In-Reply-To: <${o.inReplyTo}>`] : []),
      'Date: Sat, 05 Dec 2026 10:00:00 +0000',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'My card was charged twice for one order.',
      '',
    ].join('\r\n');

  async function signed(message: string, key = keyPem, domain = 'bank.example'): Promise<string> {
    const result = await dkimSign(message, { signatureData: [{ signingDomain: domain, selector: 'sel', privateKey: key }] } as never);
    return result.signatures + message;
  }

  async function messageRow(providerMessageId: string) {
    const rows = await ctx.deps.db.execute(sql`
      select m.ticket_id, m.authentication, t.customer_id, t.sender_unverified, t.sender_unverified_reason, t.number
      from messages m join tickets t on t.id = m.ticket_id where m.provider_message_id = ${providerMessageId}`);
    return rows.rows[0] as { ticket_id: string; authentication: { verdict: string; source: string; dmarc: { result: string } | null }; customer_id: string; sender_unverified: boolean; sender_unverified_reason: string | null; number: number };
  }

  let real: Awaited<ReturnType<typeof messageRow>>;

  it('records a passing DKIM signature and DMARC for the real customer', async () => {
    const response = await postEmail(ctx, await signed(mail({ from: 'dana@bank.example', id: 'real-1@bank.example', subject: 'Charged twice' })));
    expect(response.statusCode).toBe(200);
    real = await messageRow('<real-1@bank.example>');
    expect(real.sender_unverified).toBe(false);
    expect(real.authentication).toMatchObject({ verdict: 'pass', source: 'local', dmarc: { result: 'pass' } });
  });

  it('keeps a forged From (no signature, a reply to the real thread) off the real customer and ticket, flagged with the reason', async () => {
    const forged = mail({ from: 'dana@bank.example', id: 'forged-1@evil.example', subject: `Re: [#${real.number}] Charged twice`, inReplyTo: 'real-1@bank.example' });
    const response = await postEmail(ctx, forged);
    expect(response.statusCode).toBe(200);
    const row = await messageRow('<forged-1@evil.example>');
    expect(row.ticket_id).not.toBe(real.ticket_id);
    expect(row.customer_id).not.toBe(real.customer_id);
    expect(row.sender_unverified).toBe(true);
    expect(row.sender_unverified_reason).toMatch(/DMARC fail for bank\.example/);

    // Agents see why, on the ticket and its timeline; the real ticket got nothing.
    const ticket = await ctx.app.inject({ method: 'GET', url: `/v1/tickets/${row.ticket_id}`, headers: bearer(ctx.adminToken) });
    expect(ticket.json()).toMatchObject({ senderUnverified: true, senderUnverifiedReason: expect.stringContaining('DMARC fail') });
    const events = await ctx.app.inject({ method: 'GET', url: `/v1/tickets/${row.ticket_id}/events`, headers: bearer(ctx.adminToken) });
    expect(events.json().items.map((e: { type: string }) => e.type)).toContain('sender_unverified');
    const count = await ctx.deps.db.execute(sql`select count(*)::int as n from messages where ticket_id = ${real.ticket_id}`);
    expect(count.rows[0]).toEqual({ n: 1 });
  });

  it('treats a signature by another key as forged too', async () => {
    await postEmail(ctx, await signed(mail({ from: 'dana@bank.example', id: 'forged-2@evil.example', subject: 'Hello' }), strangerKey));
    const row = await messageRow('<forged-2@evil.example>');
    expect(row.sender_unverified).toBe(true);
    expect(row.customer_id).not.toBe(real.customer_id);
  });

  it('over SMTP: a signed reply joins the real ticket, a forged one from an address SPF refuses does not; refused recipients and oversize mail are refused', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtp.port, secure: false, ignoreTLS: true, tls: { rejectUnauthorized: false } });
    try {
      const reply = await signed(mail({ from: 'dana@bank.example', id: 'real-2@bank.example', subject: 'Re: Charged twice', inReplyTo: 'real-1@bank.example' }));
      const sent = await transport.sendMail({ envelope: { from: 'dana@bank.example', to: ['support@desk.example'] }, raw: reply });
      expect(sent.response).toMatch(/^250 /);
      const joined = await messageRow('<real-2@bank.example>');
      expect(joined.ticket_id).toBe(real.ticket_id);

      await transport.sendMail({ envelope: { from: 'dana@bank.example', to: ['support@desk.example'] }, raw: mail({ from: 'dana@bank.example', id: 'forged-3@evil.example', subject: 'Re: Charged twice', inReplyTo: 'real-1@bank.example' }) });
      const forged = await messageRow('<forged-3@evil.example>');
      expect(forged.sender_unverified).toBe(true);
      expect(forged.ticket_id).not.toBe(real.ticket_id);

      // No DMARC record: SPF fail and no DKIM is forged too.
      await transport.sendMail({ envelope: { from: 'ann@shop.example', to: ['support@desk.example'] }, raw: mail({ from: 'ann@shop.example', id: 'forged-4@evil.example', subject: 'Order' }) });
      const noDmarc = await messageRow('<forged-4@evil.example>');
      expect(noDmarc.sender_unverified).toBe(true);
      expect(noDmarc.sender_unverified_reason).toMatch(/SPF fail/);

      // A listed address of another domain is accepted; anything else is refused at RCPT.
      await expect(transport.sendMail({ envelope: { from: 'x@bank.example', to: ['complaints@other.example'] }, raw: mail({ from: 'x@bank.example', id: 'ok-5@x', subject: 'x' }) })).resolves.toBeTruthy();
      const refused = await transport.sendMail({ envelope: { from: 'x@bank.example', to: ['someone@elsewhere.example'] }, raw: mail({ from: 'x@bank.example', id: 'no-6@x', subject: 'x' }) }).catch((e: { responseCode?: number }) => e);
      expect((refused as { responseCode?: number }).responseCode).toBe(550);
      const big = await transport.sendMail({ envelope: { from: 'x@bank.example', to: ['support@desk.example'] }, raw: `${mail({ from: 'x@bank.example', id: 'big-7@x', subject: 'x' })}${'z'.repeat(300_000)}\r\n` }).catch((e: { responseCode?: number }) => e);
      expect((big as { responseCode?: number }).responseCode).toBe(552);
      const stored = await ctx.deps.db.execute(sql`select count(*)::int as n from messages where provider_message_id in ('<no-6@x>', '<big-7@x>')`);
      expect(stored.rows[0]).toEqual({ n: 0 });
    } finally {
      transport.close();
    }
  });

  it('believes the topmost Authentication-Results of a trusted relay, and not one the sender wrote', async () => {
    const relayed = mail({
      from: 'dana@bank.example',
      id: 'relay-1@bank.example',
      subject: 'via relay',
      extra: ['Authentication-Results: mx.trusted.example; spf=pass smtp.mailfrom=bank.example; dkim=pass header.d=bank.example; dmarc=pass header.from=bank.example'],
    });
    await postEmail(ctx, relayed);
    const row = await messageRow('<relay-1@bank.example>');
    expect(row.authentication).toMatchObject({ verdict: 'pass', source: 'provider' });
    expect(row.customer_id).toBe(real.customer_id);

    const selfWritten = mail({
      from: 'dana@bank.example',
      id: 'relay-2@evil.example',
      subject: 'fake results',
      extra: ['Authentication-Results: mx.untrusted.example; dmarc=pass header.from=bank.example'],
    });
    await postEmail(ctx, selfWritten);
    const forged = await messageRow('<relay-2@evil.example>');
    expect(forged.sender_unverified).toBe(true);
  });

  it("uses Mailgun's SPF and DKIM verdicts with the From domain's DMARC policy", async () => {
    const headers = JSON.stringify([
      ['X-Mailgun-Spf', 'Fail'],
      ['X-Mailgun-Dkim-Check-Result', 'Fail'],
      ['From', 'Dana <dana@bank.example>'],
      ['Message-Id', '<mg-forged@evil.example>'],
      ['Subject', 'Re: Charged twice'],
    ]);
    const response = await postMailgun(
      ctx,
      mailgunFields(ctx, { sender: 'dana@bank.example', from: 'Dana <dana@bank.example>', recipient: 'support@desk.example', subject: 'Re: Charged twice', 'body-plain': 'refund me', 'message-headers': headers }),
    );
    expect(response.statusCode).toBe(200);
    const row = await messageRow('<mg-forged@evil.example>');
    expect(row.authentication).toMatchObject({ source: 'provider', verdict: 'fail' });
    expect(row.customer_id).not.toBe(real.customer_id);
  });
});
