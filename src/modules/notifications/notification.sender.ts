import { createHmac } from 'node:crypto';
import { UnrecoverableError } from 'bullmq';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import { OutboundUrlError, postOutbound, type OutboundPolicy } from '../../shared/outbound-url.js';

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(an invalid URL)';
  }
}

export const SIGNATURE_HEADER = 'x-complaint-desk-signature';

export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * Sends what the notifications queue asks for. A failure throws, so BullMQ retries with
 * backoff; a permanent one (a 4xx from the receiver, no SMTP configured) throws
 * UnrecoverableError so it is not retried in vain.
 */
export function createNotificationSender(deps: { webhookSecret: string | undefined; smtpUrl: string | undefined; emailFrom: string; logger: Logger; outbound?: OutboundPolicy }) {
  const outbound = deps.outbound ?? { allowPrivate: false, allowHttp: false };
  let transport: Transporter | null = null;
  const mailer = () => (transport ??= nodemailer.createTransport(deps.smtpUrl!));
  return {
    async webhook(job: { url: string; event: string; payload: Record<string, unknown> }): Promise<void> {
      const body = JSON.stringify({ event: job.event, sentAt: new Date().toISOString(), data: job.payload });
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'complaint-desk' };
      if (deps.webhookSecret) headers[SIGNATURE_HEADER] = signBody(body, deps.webhookSecret);
      // Only the origin is ever named in errors and logs: a webhook's path or query is often
      // its credential (Slack-style hook URLs).
      const origin = originOf(job.url);
      let status: number;
      try {
        status = await postOutbound(job.url, { headers, body, timeoutMs: 10_000 }, outbound);
      } catch (error) {
        // A URL the guard refuses (saved before the guard existed, or re-pointed by DNS) will
        // not become acceptable by retrying.
        if (error instanceof OutboundUrlError) throw new UnrecoverableError(`webhook to ${origin} refused: ${error.message}`);
        throw new Error(`webhook to ${origin} failed: ${(error as Error).message}`);
      }
      if (status >= 200 && status < 300) return;
      const message = `webhook to ${origin} answered ${status}`;
      // 3xx: redirects are not followed (they would lead past the SSRF guard).
      if (status >= 300 && status < 500 && status !== 408 && status !== 429) throw new UnrecoverableError(message);
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
