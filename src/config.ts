import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { DEFAULT_FIGURE_SETTINGS, parsePerChannel, type PerChannel } from './domain/figures/settings.js';
import { SECRET_SETTINGS } from './shared/logger.js';

/**
 * Every setting comes from the environment, read here once and validated with zod, so a bad
 * value stops the process at start with a message naming the variable, never half-way
 * through a request.
 */
const optionalSecret = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

const optionalUrl = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v))
  .pipe(z.url().optional());

function isAddressOrCidr(value: string): boolean {
  if (ipaddr.isValid(value)) return true;
  try {
    ipaddr.parseCIDR(value);
    return true;
  } catch {
    return false;
  }
}

/** "https://desk.example.com" or "http://localhost:5173": what a browser sends as Origin, exactly. */
function isExactOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value && !value.includes('*');
  } catch {
    return false;
  }
}

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const booleanFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** A per-channel number of seconds (src/domain/figures/settings.ts). */
const perChannel = (defaults: PerChannel) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      try {
        return parsePerChannel(raw, defaults);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    });

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/, error: 'a postgres:// URL' })
    .default('postgres://postgres@127.0.0.1:5432/complaint_desk'),
  /** Per process; ROLE=all shares it between API requests, SLA timers (short) and deliveries (held during the send). */
  DATABASE_POOL_MAX: positiveInt(30),
  /** How long a request waits for a pool connection before failing, instead of hanging. */
  DATABASE_ACQUIRE_TIMEOUT_MS: positiveInt(10_000),
  /** Postgres ends a transaction left idle this long, so a stuck client cannot hold locks forever. */
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: positiveInt(60_000),
  /**
   * A read replica (optional): reports and exports (KPI and agent reports, list exports) read
   * through a second pool on it. Unset: they read from DATABASE_URL like everything else.
   */
  DATABASE_READ_URL: z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .pipe(z.url({ protocol: /^postgres(ql)?$/, error: 'a postgres:// URL' }).optional()),
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'a redis:// URL' }).default('redis://127.0.0.1:6379'),
  /**
   * A Redis Cluster instead of REDIS_URL: comma-separated host:port of some of its nodes
   * ("10.0.0.1:7000,10.0.0.2:7000"); the client discovers the others. QUEUE_PREFIX must then be
   * a hash tag ("{cd}") so every key of a queue, and of a BullMQ script, lands in one slot.
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/, 'host:port'))),
  /** The longest an API-side Redis command (adding a job) waits for an answer from a Redis that accepts connections but does not reply. */
  REDIS_COMMAND_TIMEOUT_MS: positiveInt(5_000),
  /** The longest a producer waits for the Redis connection while it is first being opened; once Redis is known to be away, producers fail at once. */
  REDIS_READY_WAIT_MS: positiveInt(2_000),
  /** Prefix of every BullMQ key, so several installs (or test files) share one Redis safely. */
  QUEUE_PREFIX: z
    .string()
    .regex(/^(?:[A-Za-z0-9_-]+|\{[A-Za-z0-9_-]+\})$/, 'letters, digits, "_" and "-" only, or those in braces (a Redis Cluster hash tag such as {cd})')
    .default('cd'),
  ADMIN_API_KEY: optionalSecret.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PRETTY: booleanFlag(false),
  ROLE: z.enum(['api', 'worker', 'all']).default('all'),
  /**
   * Where a ROLE=worker process serves GET /metrics (and /healthz) for Prometheus; 0 turns it
   * off. API processes (ROLE=api or all) serve /metrics on PORT instead.
   */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  /** Requests per minute per API key (or per IP for unauthenticated routes); 0 turns it off. */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(1200),
  /** Wrong API keys and failed webhook signatures per minute per client address before it gets 429s; 0 turns it off. */
  AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(0).default(20),
  /**
   * The reverse proxies whose X-Forwarded-For is believed, as comma-separated addresses or CIDRs
   * ("10.0.0.1,10.1.0.0/16"); empty (the default): the socket address is the client's.
   */
  TRUST_PROXY: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.string().refine(isAddressOrCidr, 'an IP address or CIDR'))),
  /**
   * Browser origins allowed to call the API (CORS), comma-separated exact origins
   * ("https://desk.example.com,http://localhost:5173"); empty (the default): none. No wildcard:
   * the API answers with credentials, and "*" would hand them to any page.
   */
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.string().refine(isExactOrigin, 'an exact origin such as https://desk.example.com (scheme, host, optional port; no path, no wildcard)'))),
  /** Hours a stored Idempotency-Key answer is replayed for; the maintenance job deletes older ones. */
  IDEMPOTENCY_KEY_TTL_HOURS: positiveInt(24),
  /**
   * Signs the browser session cookie (Bull Board, the ops wall): 32 bytes or more. Unset: a
   * secret is generated once and kept in the database (app_secrets), shared by every process.
   */
  SESSION_SECRET: optionalSecret.pipe(z.string().refine((v) => Buffer.byteLength(v) >= 32, 'must be at least 32 bytes').optional()),
  /** Hours a browser session lasts after its sign-in. */
  SESSION_TTL_HOURS: positiveInt(12),
  /**
   * OIDC (optional): with both set, a JWT bearer from this issuer for this audience, verified
   * against the issuer's JWKS, authenticates as the active agent whose e-mail matches.
   */
  OIDC_ISSUER: optionalUrl,
  OIDC_AUDIENCE: optionalSecret,
  /** The issuer's JWKS; unset: the jwks_uri of the issuer's /.well-known/openid-configuration. */
  OIDC_JWKS_URL: optionalUrl,
  /** The claim that carries the role (admin, supervisor, agent); a dotted path reaches nested claims ("realm_access.role"). */
  OIDC_ROLE_CLAIM: z.string().min(1).default('role'),
  /**
   * Interactive OIDC sign-in (optional) for the ops wall and Bull Board: with OIDC_ISSUER and
   * this client id registered at the provider, the sign-in page offers "Sign in with …" (the
   * authorization code flow with PKCE). The provider's endpoints come from its discovery document.
   */
  OIDC_CLIENT_ID: optionalSecret,
  /** The client's secret, for a confidential client (sent with HTTP Basic to the token endpoint); unset: a public client (PKCE only). */
  OIDC_CLIENT_SECRET: optionalSecret,
  /** The redirect URI registered at the provider; unset: PUBLIC_BASE_URL + /auth/oidc/callback, else the address the browser used. */
  OIDC_REDIRECT_URL: optionalUrl,
  /** The provider's name on the sign-in button ("Sign in with Keycloak"); unset: the issuer's host name. */
  OIDC_PROVIDER_NAME: z.string().trim().min(1).max(60).optional(),
  /** Scopes asked for at sign-in (space-separated; must hold openid, and whatever scope yields the email and role claims). */
  OIDC_SCOPES: z
    .string()
    .default('openid email profile')
    .refine((v) => v.split(/\s+/).includes('openid'), 'must include openid'),
  /** The longest each request to the provider (discovery, token exchange, keys) waits. */
  OIDC_HTTP_TIMEOUT_MS: positiveInt(5_000),
  /** Seconds the process waits for in-flight work on SIGTERM before it exits anyway. */
  SHUTDOWN_GRACE_SEC: positiveInt(25),
  /** How often an open event stream checks its caller's key, session or token again (a revoked one ends the stream). */
  STREAM_REAUTHORIZE_SEC: positiveInt(30),
  BODY_LIMIT_BYTES: positiveInt(1_048_576),
  EMAIL_BODY_LIMIT_BYTES: positiveInt(26_214_400),

  // Channels (issue 3). A channel whose secret is unset answers 503 on its webhook.
  PUBLIC_BASE_URL: optionalUrl,
  FACEBOOK_APP_SECRET: optionalSecret,
  FACEBOOK_APP_ID: optionalSecret,
  FACEBOOK_VERIFY_TOKEN: optionalSecret,
  FACEBOOK_PAGE_ACCESS_TOKEN: optionalSecret,
  TWITTER_CONSUMER_SECRET: optionalSecret,
  TWILIO_AUTH_TOKEN: optionalSecret,
  MAILGUN_SIGNING_KEY: optionalSecret,
  /**
   * How old a Mailgun signature may be. Mailgun retries for 8 hours and may resend the original
   * signature, so the window covers that; replays within it are stopped by the token cache
   * (webhook_tokens: a token is accepted again only with the same content).
   */
  MAILGUN_SIGNATURE_MAX_AGE_SEC: positiveInt(9 * 3600),
  DEFAULT_PHONE_REGION: z
    .string()
    .regex(/^[A-Z]{2}$/, 'a two-letter ISO 3166 region such as IL or PL')
    .default('IL'),
  /** A customer's message on another channel joins their open ticket if it is younger than this. */
  CROSS_CHANNEL_MERGE_HOURS: z.coerce.number().min(0).default(72),
  /**
   * Flood control: new tickets one customer may have in a rolling hour (any route counts)
   * before intake opens no more for them. Past it, a message that would open another joins
   * their latest open ticket (a "flood" timeline event counts them). 0 turns it off.
   */
  INTAKE_FLOOD_MAX_PER_HOUR: z.coerce.number().int().min(0).default(10),
  ATTACHMENTS_DIR: z.string().optional(),

  // SLA engine and notifications (issue 4).
  /** How often the reconciler sweeps for overdue clocks: the net under lost timer jobs. */
  SLA_RECONCILE_INTERVAL_MS: z.coerce.number().int().min(200).default(5_000),
  // The overdue watch (workers/index.ts): each worker process asks Postgres this often for a running
  // clock whose deadline passed without its job firing; 0 leaves such deadlines to the reconciler.
  SLA_OVERDUE_CHECK_MS: z.coerce.number().int().min(0).default(25),
  /**
   * Timer jobs in flight per worker process. A job only waits for its batch (jobs due together
   * share one transaction, at most 4 at once), so this can be high without holding connections.
   */
  SLA_WORKER_CONCURRENCY: positiveInt(200),
  /** Escalation webhooks carry X-Complaint-Desk-Signature: sha256=<hex HMAC of the body>. */
  NOTIFY_WEBHOOK_SECRET: optionalSecret,
  /**
   * Outbound webhooks may reach private, loopback and link-local addresses. Off in production:
   * an escalation URL must not let a policy editor probe the internal network (SSRF). Tests
   * that run a local receiver turn it on.
   */
  OUTBOUND_ALLOW_PRIVATE: booleanFlag(false),
  /** Outbound webhooks may use plain http (otherwise https only). */
  OUTBOUND_ALLOW_HTTP: booleanFlag(false),

  // Event webhook subscriptions (issue 15).
  /** Subscription URLs may point at loopback, private, link-local… addresses and use plain http (local test receivers only: SSRF). */
  WEBHOOK_ALLOW_PRIVATE: booleanFlag(false),
  /** One delivery attempt waits this long for the subscriber's answer (a hanging subscriber costs one slot, not the queue). */
  WEBHOOK_TIMEOUT_MS: positiveInt(10_000),
  /** Requests in flight at once per subscription (distinct resources; a resource's events go one at a time). */
  WEBHOOK_MAX_IN_FLIGHT: positiveInt(8),
  /** A delivery is retried with exponential backoff for this long, then marked failed. */
  WEBHOOK_RETRY_HOURS: z.coerce.number().positive().default(24),
  /** The first retry waits this long; each next one twice as long (capped at an hour), with jitter. */
  WEBHOOK_BACKOFF_MS: positiveInt(5_000),
  /** Failed deliveries in a row (each after its whole retry period) that disable a subscription and raise an alarm. */
  WEBHOOK_DISABLE_AFTER_FAILURES: positiveInt(3),
  /** After a secret rotation the previous secret still signs (a second signature) this long. */
  WEBHOOK_SECRET_OVERLAP_HOURS: z.coerce.number().min(0).default(24),
  SMTP_URL: optionalUrl,
  EMAIL_FROM: z.string().default('complaint-desk <support@localhost>'),
  /** Install the shipped SLA policies and business-hours calendar when none exist. */
  INSTALL_DEFAULT_POLICIES: booleanFlag(true),

  // Delivery of replies (issue 5). Base URLs are settings so tests point them at local servers.
  /** The domain of the Message-IDs we give our e-mail replies. */
  EMAIL_MESSAGE_ID_DOMAIN: z.string().default('complaint-desk.local'),
  FACEBOOK_GRAPH_URL: z.url().default('https://graph.facebook.com/v21.0'),
  TWITTER_API_URL: z.url().default('https://api.x.com'),
  /** An OAuth 2.0 user-context token of our X account (tweet.write, dm.write). */
  TWITTER_BEARER_TOKEN: optionalSecret,
  /** Attempts before a reply goes dead; backoff is exponential with jitter between them. */
  DELIVERY_MAX_ATTEMPTS: positiveInt(6),
  DELIVERY_BACKOFF_MS: positiveInt(2_000),

  // FCR, CSAT and KPIs (issue 6).
  /** A reopen within this window after solving means the first contact did not resolve it. */
  FCR_REOPEN_WINDOW_HOURS: z.coerce.number().positive().default(168),
  /** 'message': a separate message on the customer's channel when a ticket is solved; 'off'. */
  CSAT_OFFER: z.enum(['message', 'off']).default('message'),
  CSAT_TOKEN_TTL_DAYS: z.coerce.number().positive().default(14),
  /** How often KPI targets are evaluated against their rolling windows. */
  KPI_EVALUATE_INTERVAL_MS: z.coerce.number().int().min(1_000).default(60_000),
  /** How often the maintenance worker brings the KPI rollups up to date (hours closed since, and hours whose facts changed). */
  KPI_ROLLUP_INTERVAL_MS: z.coerce.number().int().min(1_000).default(60_000),

  // Contact-center figures (issue 16): one number of seconds for every channel, or "phone=20,email=28800" over the defaults.
  /** The longest after-work (wrap-up) period counted after a call or a piece of work, per channel. */
  AFTER_WORK_MAX_SEC: perChannel(DEFAULT_FIGURE_SETTINGS.afterWorkMaxSec),
  /** Service level: calls answered within this many seconds (phone), first responses within it (digital channels). */
  SERVICE_LEVEL_THRESHOLD_SEC: perChannel(DEFAULT_FIGURE_SETTINGS.serviceLevelSec),
  /** Callers who hang up within this many seconds are short abandons, left out of service level and abandonment. */
  SHORT_ABANDON_SEC: perChannel(DEFAULT_FIGURE_SETTINGS.shortAbandonSec),

  // Routing (issue 13).
  /** An online agent whose key made no request for this long becomes away (checked by the routing sweep). */
  AGENT_IDLE_AWAY_SEC: positiveInt(900),
  /** An agent away this long (or offline at once) gives back its tickets still waiting for a first reply. */
  REASSIGN_AFTER_SEC: positiveInt(600),
  /** How often the routing sweep runs: idle agents, then every routed queue with waiting tickets (the net under lost triggers and the language fallback's clock). */
  ROUTING_SWEEP_INTERVAL_MS: z.coerce.number().int().min(200).default(5_000),

  // Privacy (issue 15): retention, applied by the maintenance worker (the rules themselves are set with PUT /v1/retention).
  /** How often the maintenance worker applies the retention rules. */
  RETENTION_INTERVAL_MS: z.coerce.number().int().min(100).default(3_600_000),
  /** Rows per retention batch (one short transaction each). */
  RETENTION_BATCH_SIZE: z.coerce.number().int().min(1).max(100_000).default(1_000),
  /** Batches per rule and run; the next run continues where one stopped. */
  RETENTION_MAX_BATCHES: z.coerce.number().int().min(1).default(50),

  // Month partitions (issue 18): ticket_events, sla_stream_events, inbound_payloads.
  /** How often the maintenance worker creates the months ahead and drops expired ones (and once at start). */
  PARTITION_INTERVAL_MS: z.coerce.number().int().min(1_000).default(86_400_000),
  /** Months after the current one that always have a partition. */
  PARTITION_MONTHS_AHEAD: z.coerce.number().int().min(1).max(24).default(3),
  /** The longest partition DDL waits for its table lock before giving up until the next run. */
  PARTITION_LOCK_TIMEOUT_MS: z.coerce.number().int().min(10).default(5_000),

  // Mailboxes, the inbound SMTP listener and sender authentication (issue 19).
  /**
   * The key that encrypts mailbox passwords and OAuth2 secrets at rest (AES-256-GCM): 32 bytes
   * as 64 hex digits or base64, or any passphrase of 16+ characters (hashed to 32 bytes).
   * Unset: mailboxes cannot be created (503 naming this setting) and none is fetched.
   */
  MAILBOX_SECRET_KEY: optionalSecret.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
  /** Whether worker processes fetch the configured mailboxes (one fetcher per mailbox across all of them). */
  MAILBOX_FETCH: booleanFlag(true),
  /** How often a mailbox is checked when its server has no IDLE, and how long one IDLE lasts before it is renewed. */
  MAILBOX_POLL_INTERVAL_MS: z.coerce.number().int().min(100).default(60_000),
  /** How long a worker's claim on a mailbox lasts unless renewed (renewed every third of it); another worker takes over after it. */
  MAILBOX_LEASE_SEC: z.coerce.number().int().min(2).default(60),
  /** Reconnect backoff after a failure: first and longest wait (exponential with jitter between). */
  MAILBOX_RETRY_MIN_MS: z.coerce.number().int().min(10).default(1_000),
  MAILBOX_RETRY_MAX_MS: z.coerce.number().int().min(10).default(300_000),
  /** How often each worker looks for mailboxes added, changed, deleted or left without a fetcher. */
  MAILBOX_SCAN_INTERVAL_MS: z.coerce.number().int().min(100).default(10_000),
  /** Port of the inbound SMTP listener (MX or forward target); unset or 0: no listener. */
  SMTP_LISTEN_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  SMTP_LISTEN_HOST: z.string().min(1).default('0.0.0.0'),
  /** The name the listener greets with (and writes in Authentication-Results). */
  SMTP_HOSTNAME: z.string().min(1).default('complaint-desk.local'),
  /** PEM files of the certificate STARTTLS offers; without them the listener offers no STARTTLS. */
  SMTP_TLS_CERT_FILE: z.string().optional(),
  SMTP_TLS_KEY_FILE: z.string().optional(),
  /** Recipients the listener accepts: comma-separated domains (example.com) and addresses (support@example.com); anything else is refused at RCPT. */
  SMTP_ACCEPT_RECIPIENTS: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^[^\s@,]*@?[a-z0-9.-]+\.?[a-z0-9-]*$/, 'a domain or an e-mail address'))),
  /** Check SPF, DKIM, DMARC and ARC of every inbound e-mail (false: results are not computed and no mail is flagged). */
  SENDER_AUTHENTICATION: booleanFlag(true),
  /** authserv-ids (mx.google.com, …) whose Authentication-Results header is believed instead of our own checks; comma-separated. */
  TRUSTED_AUTHSERV_IDS: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)),
  /** DNS servers for sender authentication, comma-separated host:port; empty: the system resolver. */
  DNS_SERVERS: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/, 'host:port'))),
  /** The longest one DNS query of sender authentication waits. */
  DNS_TIMEOUT_MS: positiveInt(2_000),
  /** How long DNS answers for sender authentication are cached. */
  DNS_CACHE_TTL_SEC: positiveInt(300),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    );
  }
  const weak = [...weakSecrets(parsed.data), ...defaultAdminKey(parsed.data), ...clusterPrefix(parsed.data), ...oidcPair(parsed.data)];
  if (weak.length > 0) throw new ConfigError(weak);
  return parsed.data;
}

/** Secrets this short are guessable, and too short for the log scrubber to censor without hitting ordinary words. */
export const MIN_PRODUCTION_SECRET_LENGTH = 16;

/**
 * In production every secret setting that is set must be at least 16 characters: a shorter
 * one would be guessable and could reach a log (the scrubber censors only long values, and
 * URL passwords by their place in the URL). Development and tests may keep short ones.
 */
function weakSecrets(config: Config): string[] {
  if (config.NODE_ENV !== 'production') return [];
  return SECRET_SETTINGS.filter((name) => name !== 'SMTP_URL')
    .filter((name) => typeof config[name] === 'string' && config[name].length < MIN_PRODUCTION_SECRET_LENGTH)
    .map((name) => `${name}: must be at least ${MIN_PRODUCTION_SECRET_LENGTH} characters when NODE_ENV=production`);
}

/**
 * Admin keys printed in this project's README and docker-compose.yml: anyone who read them
 * knows them. Development may use them; production refuses to start with one.
 */
export const KNOWN_DEFAULT_ADMIN_KEYS = ['dev-admin-key-change-me', 'change-me-to-a-long-secret'];

function defaultAdminKey(config: Config): string[] {
  if (config.NODE_ENV !== 'production' || !config.ADMIN_API_KEY) return [];
  const key = config.ADMIN_API_KEY.toLowerCase();
  if (KNOWN_DEFAULT_ADMIN_KEYS.includes(key) || /change-?me/.test(key)) return ['ADMIN_API_KEY: a published example key; choose a secret of your own when NODE_ENV=production'];
  return [];
}

/**
 * OIDC settings that make sense only together: bearer tokens need issuer and audience, the
 * interactive sign-in issuer and client id, a client secret a client id; an issuer alone would
 * be a half-configured sign-in.
 */
function oidcPair(config: Config): string[] {
  const problems: string[] = [];
  if (config.OIDC_AUDIENCE && !config.OIDC_ISSUER) problems.push('OIDC_ISSUER: must be set when OIDC_AUDIENCE is');
  if (config.OIDC_CLIENT_ID && !config.OIDC_ISSUER) problems.push('OIDC_ISSUER: must be set when OIDC_CLIENT_ID is');
  if (config.OIDC_CLIENT_SECRET && !config.OIDC_CLIENT_ID) problems.push('OIDC_CLIENT_ID: must be set when OIDC_CLIENT_SECRET is');
  if (config.OIDC_ISSUER && !config.OIDC_AUDIENCE && !config.OIDC_CLIENT_ID) problems.push('OIDC_AUDIENCE: must be set when OIDC_ISSUER is (or OIDC_CLIENT_ID, for the sign-in page only)');
  return problems;
}

/** On a Redis Cluster a BullMQ script touches several keys of a queue: they must share one slot. */
function clusterPrefix(config: Config): string[] {
  if (config.REDIS_CLUSTER_NODES.length === 0 || /^\{.+\}$/.test(config.QUEUE_PREFIX)) return [];
  return [`QUEUE_PREFIX: must be a hash tag such as {${config.QUEUE_PREFIX}} when REDIS_CLUSTER_NODES is set`];
}
