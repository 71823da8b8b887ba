import { pino, type DestinationStream, type LogFn, type Logger } from 'pino';
import { describeError, serializeError } from './error-description.js';

/** The settings that hold secrets: their values never reach a log line, wherever they appear. */
export const SECRET_SETTINGS = [
  'ADMIN_API_KEY',
  'FACEBOOK_APP_SECRET',
  'FACEBOOK_VERIFY_TOKEN',
  'FACEBOOK_PAGE_ACCESS_TOKEN',
  'TWITTER_CONSUMER_SECRET',
  'TWILIO_AUTH_TOKEN',
  'MAILGUN_SIGNING_KEY',
  'TWITTER_BEARER_TOKEN',
  'NOTIFY_WEBHOOK_SECRET',
  'SESSION_SECRET',
  'SMTP_URL',
  'MAILBOX_SECRET_KEY',
  'OIDC_CLIENT_SECRET',
] as const;

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
  ...SECRET_SETTINGS.map((name) => `config.${name}`),
];

const CENSOR = '[redacted]';

/**
 * Query parameters whose value is a credential: hub.verify_token (Facebook's handshake),
 * crc_token, and any *token*, *key*, *secret*, *signature*, *password* or *auth* parameter.
 * The value ends at "&", "#", whitespace, a quote or a backslash (a JSON string's end); names
 * are bounded so that a hostile URL cannot make the scan quadratic.
 */
const SECRET_QUERY_PARAM = /([?&][^=&?#\s"\\]{0,64}(?:token|key|secret|signature|sig|password|passwd|auth)[^=&?#\s"\\]{0,64}=)[^&#\s"\\]*/gi;

/**
 * Path segments that are bearer tokens themselves: the CSAT survey page (/v1/csat/<token>).
 * A new page addressed by a token adds its prefix here.
 */
const SECRET_PATH_SEGMENT = /(\/v1\/csat\/)[^/?#\s"\\]+/gi;

/**
 * The password of a URL's userinfo (postgres://desk:<password>@db, redis://:<password>@cache):
 * censored in any URL of any setting, whatever its length. Bounded, so a hostile line stays linear.
 */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]{0,30}:\/\/[^\s/?#@"\\:]{0,256}:)[^\s/?#@"\\]{1,256}@/gi;

/**
 * The OIDC sign-in's return address (/auth/oidc/callback?code=…&state=…): its whole query is
 * censored, since the authorization code and the state are single-use credentials under names
 * (code, state) too common to censor everywhere.
 */
const OIDC_CALLBACK_QUERY = /(\/auth\/oidc\/callback\?)[^#\s"\\]*/gi;

/** A URL (or any text holding URLs) with every secret-bearing query value and path segment censored. */
export function redactUrl(text: string): string {
  return text.replace(SECRET_QUERY_PARAM, `$1${CENSOR}`).replace(SECRET_PATH_SEGMENT, `$1${CENSOR}`).replace(OIDC_CALLBACK_QUERY, `$1${CENSOR}`);
}

/**
 * The last line of defence, applied to every serialized log line (request, response, error and
 * worker logs alike): secret-bearing URL parts are censored, and so is any literal occurrence
 * of a configured secret, whatever field or message carried it.
 */
export function createLineScrubber(secrets: readonly string[]): (line: string) => string {
  // Short values would censor ordinary words; in production config requires secrets of 16
  // characters or more, and URL passwords of any length are censored by their place in the URL.
  const literal = [...new Set(secrets.filter((s) => s.length >= MIN_SCRUBBED_LENGTH))].sort((a, b) => b.length - a.length);
  return (line) => {
    let out = line.includes('?') || line.includes('/v1/csat/') ? redactUrl(line) : line;
    if (out.includes('://')) out = out.replace(URL_PASSWORD, `$1${CENSOR}@`);
    for (const secret of literal) if (out.includes(secret)) out = out.split(secret).join(CENSOR);
    return out;
  };
}

/** Shorter literal secrets are not scrubbed (they would censor ordinary words). */
export const MIN_SCRUBBED_LENGTH = 8;

/**
 * The values of the secret settings that are set, and the password of every URL setting
 * (DATABASE_URL, REDIS_URL, SMTP_URL…, as written and percent-decoded), for createLogger's scrubber.
 */
export function configuredSecrets(config: Readonly<Record<string, unknown>>): string[] {
  const values = SECRET_SETTINGS.map((name) => config[name]).filter((v): v is string => typeof v === 'string' && v.length > 0);
  for (const [name, value] of Object.entries(config)) {
    if (!name.endsWith('_URL') || typeof value !== 'string') continue;
    for (const password of urlPasswords(value)) if (!values.includes(password)) values.push(password);
  }
  return values;
}

function urlPasswords(raw: string): string[] {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return [];
  }
  if (!url.password) return [];
  let decoded = url.password;
  try {
    decoded = decodeURIComponent(url.password);
  } catch {
    // A malformed escape: the password as written is all there is.
  }
  return decoded === url.password ? [url.password] : [url.password, decoded];
}

/**
 * pino takes a logged error's raw message as the line's msg when no msg is given
 * (`logger.error(err)`, `logger.error({ err })`): the safe description is given instead.
 */
function logMethodWithSafeMessage(this: Logger, args: Parameters<LogFn>, method: LogFn): void {
  if (args.length === 1) {
    const [first] = args as [unknown];
    const error = first instanceof Error ? first : first && typeof first === 'object' && !('msg' in first) ? (first as { err?: unknown }).err : undefined;
    if (error instanceof Error) return method.apply(this, [first as object, describeError(error)]);
  }
  return method.apply(this, args);
}

/**
 * Every logger the service creates (API and workers alike; fastify's request loggers are its
 * children): secrets scrubbed, and errors serialized without the values of a failed query.
 */
export function createLogger(options: { level: string; pretty: boolean; secrets?: readonly string[]; destination?: DestinationStream }): Logger {
  const opts = {
    level: options.level,
    redact: { paths: REDACT_PATHS, censor: CENSOR },
    serializers: { err: serializeError },
    hooks: { streamWrite: createLineScrubber(options.secrets ?? []), logMethod: logMethodWithSafeMessage },
  };
  if (options.destination) return pino(opts, options.destination);
  return pino({ ...opts, ...(options.pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}) });
}
