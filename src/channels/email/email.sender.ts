import nodemailer from 'nodemailer';
import { PermanentSendError, type ChannelSender, type OutboundMessage, type SendResult } from '../channel.sender.js';
import { isRightToLeft } from '../language.js';
import { extractTicketNumber, normalizeMessageIds, stripReplyPrefixes } from './email.threading.js';

export interface EmailSenderOptions {
  /** smtp://user:pass@host:port or smtps://…; query parameters override the defaults below. */
  smtpUrl: string;
  /** "Name <address>", as EMAIL_FROM. */
  from: string;
  /** Domain part of the Message-IDs we mint. */
  messageIdDomain: string;
}

// Global twin of the token email.threading.ts reads, to drop a token that is not this ticket's.
const ANY_TICKET_TOKEN = /\s*\[\s*(?:ticket\s*)?#\s*\d{1,15}\s*\]/gi;

/**
 * Replies by SMTP, threaded so the customer's client files the answer under their mail and
 * their next answer finds the ticket again (Message-ID we store, "[#N]" in the subject).
 */
export function createEmailSender(opts: EmailSenderOptions): ChannelSender & { close(): void } {
  // nodemailer waits 2 minutes to connect and 10 of socket silence; a worker would rather fail and retry.
  const transport = nodemailer.createTransport({
    url: opts.smtpUrl,
    pool: true,
    maxConnections: 3,
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 60_000,
  });

  return {
    channel: 'email',

    async send(message: OutboundMessage): Promise<SendResult> {
      if (message.to.kind !== 'email' || !message.to.address.includes('@')) {
        throw new PermanentSendError(`Not an e-mail address: "${message.to.address}"`, 'invalid-recipient');
      }
      // Brackets as nodemailer writes them, so what we store matches the customer's In-Reply-To.
      const messageId = normalizeMessageIds(message.messageIdHeader)[0] ?? outboxMessageId(message.outboxId, opts.messageIdDomain);
      const inReplyTo = normalizeMessageIds(message.thread.inReplyToMessageId)[0];
      const references = normalizeMessageIds([...(message.thread.references ?? []), ...(inReplyTo ? [inReplyTo] : [])]);
      const language = message.language?.trim().toLowerCase() || undefined;

      try {
        await transport.sendMail({
          from: opts.from,
          to: message.to.displayName ? { name: message.to.displayName, address: message.to.address } : message.to.address,
          subject: replySubject(message.subject, message.ticketNumber),
          messageId,
          ...(inReplyTo ? { inReplyTo } : {}),
          ...(references.length > 0 ? { references } : {}),
          ...(language ? { headers: { 'Content-Language': language } } : {}),
          text: message.text,
          html: htmlDocument(message.html ?? textToHtml(message.text), language),
        });
      } catch (err) {
        throw classifySmtpError(err);
      }
      return { providerMessageId: messageId };
    },

    close(): void {
      transport.close();
    },
  };
}

/**
 * The same outbox row always gets the same Message-ID, so a retry after a lost "250 OK"
 * arrives as a duplicate the receiving server or client can drop rather than a second mail.
 */
export function outboxMessageId(outboxId: string, domain: string): string {
  const local = outboxId.replace(/[^A-Za-z0-9._-]/g, '-');
  return `<outbox-${local}@${domain}>`;
}

/**
 * "Re: <subject> [#N]": one "Re:" however deep the thread (stripReplyPrefixes also removes
 * localised ones: AW:, Odp:, השב:), and only our ticket's token, since a stale token from a
 * merged ticket would thread the customer's answer onto the wrong ticket.
 */
export function replySubject(subject: string | undefined, ticketNumber: number): string {
  const base = stripReplyPrefixes(subject ?? '');
  const tokens = base.match(ANY_TICKET_TOKEN) ?? [];
  if (tokens.length === 1 && extractTicketNumber(tokens[0]) === ticketNumber) return `Re: ${base}`;
  const cleaned = base.replace(ANY_TICKET_TOKEN, '').trim();
  return cleaned ? `Re: ${cleaned} [#${ticketNumber}]` : `Re: [#${ticketNumber}]`;
}

const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** Blank lines separate paragraphs, single newlines stay line breaks, as the agent typed them. */
export function textToHtml(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n+/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
    .map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>\n')}</p>`)
    .join('\n');
}

function htmlDocument(body: string, language: string | undefined): string {
  // A whole document from the editor is its author's; nesting it in ours would break it.
  if (/<html[\s>]/i.test(body)) return body;
  const langAttr = language ? ` lang="${escapeHtml(language)}"` : '';
  // Mail clients ignore <html dir> more often than a block's own dir, so the div carries it.
  const open = isRightToLeft(language) ? `<div dir="rtl"${langAttr}>` : `<div${langAttr}>`;
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n${open}\n${body}\n</div>\n</body></html>\n`;
}

interface SmtpErrorFields {
  code?: unknown;
  responseCode?: unknown;
  response?: unknown;
}

/**
 * 5xx to the envelope or the data is the receiving server's final word (unknown user, mailbox
 * full for good, content refused): retrying only repeats it. A 4xx (greylisting, a full
 * queue) and every connection failure is worth retrying. A 5xx to AUTH is our configuration,
 * not the customer's address, so it stays retryable: fixing SMTP_URL saves the queue.
 */
export function classifySmtpError(err: unknown): Error {
  const e = (err ?? {}) as SmtpErrorFields;
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const detail = typeof e.response === 'string' ? e.response : err instanceof Error ? err.message : String(err);
  if (e.code !== 'EAUTH' && responseCode !== undefined && responseCode >= 500 && responseCode < 600) {
    return new PermanentSendError(`The mail server refused the reply: ${detail}`, 'smtp-rejected');
  }
  // nodemailer's own envelope check (no valid recipient at all) never reaches a server.
  if (e.code === 'EENVELOPE' && responseCode === undefined) {
    return new PermanentSendError(`The reply has no deliverable recipient: ${detail}`, 'invalid-recipient');
  }
  return err instanceof Error ? err : new Error(`SMTP send failed: ${detail}`);
}
