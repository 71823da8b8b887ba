import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { checkServerIdentity } from 'node:tls';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import nodemailer from 'nodemailer';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpListener, type SmtpListener } from '../../../src/channels/email/smtp-listener.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';

/**
 * STARTTLS with the configured certificate (a self-signed one made here with openssl): a sender
 * that requires TLS upgrades and delivers, and sees our certificate; without a certificate the
 * listener offers no STARTTLS, so such a sender refuses to go on.
 */
describe('SMTP listener STARTTLS', () => {
  let ctx: TestContext;
  let withTls: SmtpListener;
  let plain: SmtpListener;
  const dir = mkdtempSync(join(tmpdir(), 'cd-smtp-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');

  beforeAll(async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=mx.desk.example', '-addext', 'subjectAltName=DNS:mx.desk.example'], { stdio: 'ignore' });
    ctx = await createTestContext();
    const common = { port: 0, host: '127.0.0.1', hostname: 'mx.desk.example', acceptRecipients: ['desk.example'], sizeLimitBytes: 1_000_000, intake: ctx.deps.intake, clock: ctx.deps.clock, logger: pino({ level: 'silent' }) };
    withTls = await startSmtpListener({ ...common, tlsCertFile: cert, tlsKeyFile: key });
    plain = await startSmtpListener(common);
  });

  afterAll(async () => {
    await withTls?.close();
    await plain?.close();
    await ctx?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const message = (id: string) => `From: Ann <ann@shop.example>\r\nTo: support@desk.example\r\nSubject: tls\r\nMessage-ID: <${id}>\r\n\r\nhello\r\n`;

  it('upgrades with the configured certificate, then takes the message in', async () => {
    let seen: string | undefined;
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: withTls.port,
      secure: false,
      requireTLS: true,
      // Our certificate is the only one this client trusts: the upgrade succeeds only with it.
      tls: {
        ca: [readFileSync(cert)],
        servername: 'mx.desk.example',
        checkServerIdentity: (_host, peer) => {
          seen = peer.fingerprint256;
          return checkServerIdentity('mx.desk.example', peer);
        },
      },
    });
    try {
      const sent = await transport.sendMail({ envelope: { from: 'ann@shop.example', to: ['support@desk.example'] }, raw: message('tls-1@shop.example') });
      expect(sent.response).toMatch(/^250 /);
    } finally {
      transport.close();
    }
    expect(seen).toBe(new X509Certificate(readFileSync(cert)).fingerprint256);
    const stored = await ctx.deps.db.execute(sql`select count(*)::int as n from messages where provider_message_id = '<tls-1@shop.example>'`);
    expect(stored.rows[0]).toEqual({ n: 1 });
  });

  it('offers no STARTTLS without a certificate', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: plain.port, secure: false, requireTLS: true, tls: { rejectUnauthorized: false } });
    try {
      await expect(transport.sendMail({ envelope: { from: 'ann@shop.example', to: ['support@desk.example'] }, raw: message('tls-2@shop.example') })).rejects.toThrow();
    } finally {
      transport.close();
    }
  });
});
