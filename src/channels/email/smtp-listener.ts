import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { IntakeService } from '../../modules/intake/intake.service.js';
import type { Clock } from '../../shared/clock.js';
import { InvalidPayloadError } from '../channel.errors.js';
import { parseEmail } from './email.parser.js';
import { recipientAccepted } from './smtp-listener.recipients.js';

export interface SmtpListenerOptions {
  port: number;
  host: string;
  hostname: string;
  /** PEM; both set: STARTTLS is offered with this certificate, otherwise not at all. */
  tlsCertFile?: string | undefined;
  tlsKeyFile?: string | undefined;
  /** Domains and addresses (lower-case) we accept mail for; empty: every recipient is refused. */
  acceptRecipients: readonly string[];
  sizeLimitBytes: number;
  intake: IntakeService;
  clock: Clock;
  logger: Logger;
}

export interface SmtpListener {
  port: number;
  close(): Promise<void>;
}

/** An SMTP reply code travelling on an Error, as smtp-server reads it. */
function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

/**
 * The inbound SMTP listener (issue 19), for sites that point an MX or a forward at us. smtp-server
 * (nodemailer's, maintained) speaks the protocol; we decide at RCPT who we take mail for, and at
 * DATA take the message in through the webhooks' intake path. The 250 goes out only after the
 * transaction committed: a failure answers 451 and the sending MTA retries, so an accepted
 * message is never lost. Mail we can never take (unreadable MIME) is dead-lettered and accepted
 * (a 5xx would only bounce it back to a sender who cannot fix it).
 */
export async function startSmtpListener(options: SmtpListenerOptions): Promise<SmtpListener> {
  const { intake, logger } = options;
  const tls = options.tlsCertFile && options.tlsKeyFile ? { cert: readFileSync(options.tlsCertFile), key: readFileSync(options.tlsKeyFile) } : null;

  const server = new SMTPServer({
    name: options.hostname,
    banner: 'complaint-desk',
    secure: false,
    // Without a configured certificate STARTTLS is off, not merely unadvertised: smtp-server
    // would otherwise upgrade anyone who asks with its own built-in self-signed certificate.
    ...(tls ? { cert: tls.cert, key: tls.key } : { hideSTARTTLS: true }),
    // Nobody logs in: this is an MX. Senders are judged by SPF/DKIM/DMARC at intake.
    authOptional: true,
    disabledCommands: tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    size: options.sizeLimitBytes,
    disableReverseLookup: true,
    maxClients: 200,
    socketTimeout: 60_000,
    logger: false,
    onRcptTo(address: SMTPServerAddress, _session: SMTPServerSession, callback: (err?: Error | null) => void) {
      if (recipientAccepted(address.address, options.acceptRecipients)) return callback();
      callback(smtpError(550, `5.1.1 <${address.address}>: recipient not accepted here`));
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void) {
      const chunks: Buffer[] = [];
      let length = 0;
      stream.on('data', (chunk: Buffer) => {
        // Past the limit, the rest is read and dropped (smtp-server flags sizeExceeded).
        if (length <= options.sizeLimitBytes) chunks.push(chunk);
        length += chunk.length;
      });
      stream.on('error', (error) => callback(smtpError(451, `4.3.0 ${error.message}`)));
      stream.on('end', () => {
        if (stream.sizeExceeded || length > options.sizeLimitBytes) {
          return callback(smtpError(552, `5.3.4 message exceeds the size limit of ${options.sizeLimitBytes} bytes`));
        }
        take(Buffer.concat(chunks), session).then(
          (reply) => callback(null, reply),
          (error: unknown) => {
            logger.error({ err: error instanceof Error ? error.message : String(error) }, 'smtp message not taken in; the sender will retry');
            callback(smtpError(451, '4.3.0 temporary failure, try again later'));
          },
        );
      });
    },
  });

  async function take(raw: Buffer, session: SMTPServerSession): Promise<string> {
    const payload = { channel: 'email', body: raw, contentType: 'message/rfc822' };
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    let parsed;
    try {
      parsed = await parseEmail(raw, { receivedAt: options.clock.now() });
    } catch (error) {
      const reason = error instanceof InvalidPayloadError ? error.message : `parser failed: ${error instanceof Error ? error.message : String(error)}`;
      await intake.deadLetter(payload, `smtp from ${session.remoteAddress}: ${reason}`, error instanceof InvalidPayloadError ? error.field : null);
      return 'OK: kept for review';
    }
    const result = await intake.ingest(payload, { messages: [parsed], skipped: [] }, {
      envelope: { ip: session.remoteAddress, helo: session.hostNameAppearsAs, mailFrom },
    });
    const outcome = result.messages[0];
    return outcome?.result === 'created' ? `OK: ticket #${outcome.ticketNumber}` : `OK: ${outcome?.result ?? 'stored'}`;
  }

  server.on('error', (error) => logger.warn({ err: error.message }, 'smtp listener error'));
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const port = (server.server.address() as AddressInfo).port;
  logger.info({ port, starttls: Boolean(tls) }, 'smtp listener started');
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
