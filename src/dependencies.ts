import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { createReasonHook } from './modules/reasons/reasons.hook.js';
import { figureSettingsOf } from './modules/work/figure-settings.js';
import { createWorkHook } from './modules/work/work.hook.js';
import { createDatabase, createPool, type Database } from './db/client.js';
import { createChannelAdapters, createOutboundSenders } from './channels/channel.registry.js';
import type { ChannelAdapter } from './channels/channel.adapter.js';
import { createApiKeyService, type ApiKeyService } from './modules/auth/api-keys.service.js';
import { createAttachmentStore } from './modules/intake/attachment-store.js';
import { createIntakeService, type IntakeService } from './modules/intake/intake.service.js';
import { createSenderAuthenticator } from './channels/email/sender-auth.js';
import { TicketHooks } from './modules/tickets/tickets.hooks.js';
import { createTicketService, type TicketService } from './modules/tickets/tickets.service.js';
import { createCsatHook } from './modules/csat/csat.hook.js';
import { createCsatService, type CsatService } from './modules/csat/csat.service.js';
import { createDeliveryHook } from './modules/delivery/delivery.hook.js';
import { createEventsHook } from './modules/events/events.hook.js';
import { createFcrHook } from './modules/fcr/fcr.hook.js';
import { createFcrSettler, type FcrSettler } from './modules/fcr/fcr.settler.js';
import { createDeliveryService, type DeliveryService } from './modules/delivery/delivery.service.js';
import { createCommitmentService, type CommitmentService } from './modules/sla/commitments/commitments.service.js';
import { createSlaHook } from './modules/sla/clocks/sla.hook.js';
import { createSlaService, type SlaService } from './modules/sla/clocks/sla.service.js';
import { createSlaConfigService, type SlaConfigService } from './modules/sla/policies/sla-config.service.js';
import { createSlaRecompute, type SlaRecompute } from './modules/sla/clocks/sla.recompute.js';
import { createBreachOpsService, type BreachOpsService } from './modules/sla/breaches/breach-ops.service.js';
import { PolicyCache } from './modules/sla/policies/policy.cache.js';
import { createTimerScheduler, type TimerScheduler } from './modules/sla/clocks/sla.timers.js';
import { createRoutingEngine } from './modules/routing/routing.engine.js';
import { createRoutingHook } from './modules/routing/routing.hook.js';
import { createRoutingService, type RoutingService } from './modules/routing/routing.service.js';
import { closeQueues, createQueues, type Queues } from './queues/queues.js';
import { producerRedisFor, trackRedis } from './queues/redis.js';
import { createLinks, type Links } from './shared/link-state.js';
import { createMetrics, type Metrics } from './shared/metrics.js';
import { systemClock, type Clock } from './shared/clock.js';
import { configuredSecrets, createLogger } from './shared/logger.js';

/**
 * The composition root: pools, clients, clock and services are built once here and shared by
 * the API and the workers. Tests pass overrides (a manual clock, a silent logger) instead of
 * mocking modules.
 */
export interface Dependencies {
  config: Config;
  logger: Logger;
  clock: Clock;
  pool: pg.Pool;
  db: Database;
  /** Reports and exports: the replica of DATABASE_READ_URL, else the same handle as `db`. Never written through. */
  readDb: Database;
  redis: Redis;
  /** Whether Postgres and Redis are reachable, as their connections last reported. */
  links: Links;
  hooks: TicketHooks;
  apiKeys: ApiKeyService;
  tickets: TicketService;
  intake: IntakeService;
  inboundAdapters: ChannelAdapter[];
  queues: Queues;
  metrics: Metrics;
  policies: PolicyCache;
  timers: TimerScheduler;
  slaService: SlaService;
  slaRecompute: SlaRecompute;
  slaConfig: SlaConfigService;
  breachOps: BreachOpsService;
  commitments: CommitmentService;
  delivery: DeliveryService;
  fcr: FcrSettler;
  csat: CsatService;
  routing: RoutingService;
  close(): Promise<void>;
}

/** Connections per process to the read replica: reports are few and long, not many and short. */
const READ_POOL_MAX = 5;

export interface DependencyOverrides {
  clock?: Clock;
  logger?: Logger;
}

export function createDependencies(config: Config, overrides: DependencyOverrides = {}): Dependencies {
  const logger = overrides.logger ?? createLogger({ level: config.LOG_LEVEL, pretty: config.LOG_PRETTY, secrets: configuredSecrets(config) });
  const clock = overrides.clock ?? systemClock;
  const metrics = createMetrics();
  // One log line per change of state of Postgres or Redis, never one per retry (link-state.ts).
  const links = createLinks(logger, (dependency, up) => metrics.dependencyUp.set({ dependency }, up ? 1 : 0));
  const pool = createPool(
    config.DATABASE_URL,
    config.DATABASE_POOL_MAX,
    { acquireMs: config.DATABASE_ACQUIRE_TIMEOUT_MS, idleInTransactionMs: config.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS },
    { onConnectionError: (error) => links.postgres.lost(error), onConnect: () => links.postgres.restored() },
  );
  const db = createDatabase(pool);
  // Reports and exports read through a replica when one is configured (DATABASE_READ_URL): a
  // month's report must not take connections and I/O from intake and the timers.
  const readPool = config.DATABASE_READ_URL
    ? createPool(config.DATABASE_READ_URL, Math.min(READ_POOL_MAX, config.DATABASE_POOL_MAX), { acquireMs: config.DATABASE_ACQUIRE_TIMEOUT_MS, idleInTransactionMs: config.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS })
    : undefined;
  const readDb = readPool ? createDatabase(readPool) : db;
  const redis = trackRedis(producerRedisFor(config), links.redis);
  const queues = createQueues(redis, config.QUEUE_PREFIX, { link: links.redis, logger, readyWaitMs: config.REDIS_READY_WAIT_MS });
  const policies = new PolicyCache(db);
  const timers = createTimerScheduler({ queues, clock });
  const hooks = new TicketHooks();
  // Issue 16: a solve that needs a complaint reason is refused before any other hook acts on it.
  hooks.register(createReasonHook());
  hooks.register(createSlaHook({ policies, timers, metrics }));
  // Issue 16: calls become handle time (work intervals) and phone queue figures.
  hooks.register(createWorkHook({ settings: figureSettingsOf(config) }));
  hooks.register(createFcrHook({ queues, windowMs: config.FCR_REOPEN_WINDOW_HOURS * 3_600_000 }));
  // Before the delivery hook: the survey message it adds on solve goes out through the outbox.
  hooks.register(
    createCsatHook({ publicBaseUrl: config.PUBLIC_BASE_URL ?? `http://localhost:${config.PORT}`, ttlMs: config.CSAT_TOKEN_TTL_DAYS * 86_400_000, offer: config.CSAT_OFFER === 'message' }),
  );
  const deliverySettings = { maxAttempts: config.DELIVERY_MAX_ATTEMPTS, backoffMs: config.DELIVERY_BACKOFF_MS };
  hooks.register(createDeliveryHook({ queues, messageIdDomain: config.EMAIL_MESSAGE_ID_DOMAIN, ...deliverySettings }));
  // Events (issue 15): the change's catalog events into the outbox, last in its transaction.
  hooks.register(createEventsHook());
  // Routing (issue 13): last, after commit only; its assignments go through the same hooks.
  const routing = createRoutingService({
    db,
    clock,
    logger,
    queues,
    engine: createRoutingEngine({ db, clock, logger, hooks, metrics }),
    idleAwaySec: config.AGENT_IDLE_AWAY_SEC,
    reassignAfterSec: config.REASSIGN_AFTER_SEC,
    metrics,
  });
  hooks.register(createRoutingHook(routing.triggers));
  const senders = createOutboundSenders(config);
  const apiKeys = createApiKeyService({ db, clock });
  const tickets = createTicketService({ db, clock, logger, hooks, defaultPhoneRegion: config.DEFAULT_PHONE_REGION });
  const intake = createIntakeService({
    // Sender authentication of inbound e-mail (issue 19): SPF, DKIM, DMARC, ARC through mailauth.
    senderAuth: config.SENDER_AUTHENTICATION
      ? createSenderAuthenticator({
          trustedAuthservIds: config.TRUSTED_AUTHSERV_IDS,
          dnsServers: config.DNS_SERVERS,
          dnsTimeoutMs: config.DNS_TIMEOUT_MS,
          dnsCacheTtlMs: config.DNS_CACHE_TTL_SEC * 1000,
          mta: config.SMTP_HOSTNAME,
          logger,
        })
      : undefined,
    db,
    clock,
    logger,
    hooks,
    attachments: createAttachmentStore({ dir: config.ATTACHMENTS_DIR }),
    crossChannelMergeHours: config.CROSS_CHANNEL_MERGE_HOURS,
    floodMaxPerHour: config.INTAKE_FLOOD_MAX_PER_HOUR,
    metrics,
    policies,
  });
  const slaRecompute = createSlaRecompute({ db, clock, logger, queues, policies, hooks });
  const outbound = { allowPrivate: config.OUTBOUND_ALLOW_PRIVATE, allowHttp: config.OUTBOUND_ALLOW_HTTP };

  return {
    config,
    logger,
    clock,
    pool,
    db,
    readDb,
    redis,
    links,
    hooks,
    apiKeys,
    tickets,
    intake,
    inboundAdapters: createChannelAdapters(config),
    queues,
    metrics,
    policies,
    timers,
    slaService: createSlaService({ db, clock, logger, queues, policies, hooks, metrics }),
    slaRecompute,
    slaConfig: createSlaConfigService({ db, clock, policies, recompute: slaRecompute, outbound }),
    breachOps: createBreachOpsService({ db, clock }),
    commitments: createCommitmentService({ db, clock, queues }),
    fcr: createFcrSettler({ db, clock }),
    csat: createCsatService({ db, clock }),
    routing,
    delivery: createDeliveryService({ db, clock, logger, queues, senders: senders.byChannel, ...deliverySettings }),
    async close() {
      senders.close();
      await closeQueues(queues);
      redis.disconnect();
      await pool.end();
      await readPool?.end();
    },
  };
}
