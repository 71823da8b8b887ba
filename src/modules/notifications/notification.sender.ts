import { createHmac } from 'node:crypto';
import { UnrecoverableError } from 'bullmq';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from 'pino';

export const SIGNATURE_HEADER = 'x-complaint-desk-signature';

export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * Sends what the notifications queue asks for. A failure throws, so BullMQ retries with
 * backoff; a permanent one (a 4xx from the receiver, no SMTP configured) throws
 * UnrecoverableError so it is not retried in vain.
 */
export function createNotificationSender(deps: { webhookSecret: string | undefined; smtpUrl: string | undefined; emailFrom: string; logger: Logger }) {
  let transport: Transporter | null = null;
  const mailer = () => (transport ??= nodemailer.createTransport(deps.smtpUrl!));
  return {
    async webhook(job: { url: string; event: string; payload: Record<string, unknown> }): Promise<void> {
      const body = JSON.stringify({ event: job.event, sentAt: new Date().toISOString(), data: job.payload });
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'complaint-desk' };
      if (deps.webhookSecret) headers[SIGNATURE_HEADER] = signBody(body, deps.webhookSecret);
      const response = await fetch(job.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
      if (response.ok) return;
      const message = `webhook ${job.url} answered ${response.status}`;
      if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) throw new UnrecoverableError(message);
      throw new Error(message);
    },

    async email(job: { to: string; subject: string; text: string }): Promise<void> {
      if (!deps.smtpUrl) throw new UnrecoverableError('SMTP_URL is not set: e-mail notifications are off');
      await mailer().sendMail({ from: deps.emailFrom, to: job.to, subject: job.subject, text: job.text, headers: { 'Auto-Submitted': 'auto-generated' } });
    },

    close(): void {
      transport?.close();
    },
  };
}

export type NotificationSender = ReturnType<typeof createNotificationSender>;
