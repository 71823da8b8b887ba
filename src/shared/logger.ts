import { pino, type Logger } from 'pino';

/**
 * Secrets never reach a log: API keys, provider signatures, tokens and passwords are redacted
 * wherever they appear in request logs or in objects we log.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-hub-signature-256"]',
  'req.headers["x-hub-signature"]',
  'req.headers["x-twitter-webhooks-signature"]',
  'req.headers["x-twilio-signature"]',
  'req.headers.cookie',
  '*.password',
  '*.secret',
  '*.token',
  '*.apiKey',
  '*.authorization',
  'config.ADMIN_API_KEY',
  'config.FACEBOOK_APP_SECRET',
  'config.FACEBOOK_PAGE_ACCESS_TOKEN',
  'config.TWITTER_CONSUMER_SECRET',
  'config.TWILIO_AUTH_TOKEN',
  'config.MAILGUN_SIGNING_KEY',
  'config.TWITTER_BEARER_TOKEN',
  'config.TWITTER_ACCESS_TOKEN',
  'config.TWITTER_ACCESS_SECRET',
  'config.NOTIFY_WEBHOOK_SECRET',
  'config.SMTP_URL',
];

export function createLogger(options: { level: string; pretty: boolean }): Logger {
  return pino({
    level: options.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(options.pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  });
}
