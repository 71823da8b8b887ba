import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { and, eq, sql } from 'drizzle-orm';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Database } from '../../db/client.js';
import type { DomainEventEnvelope } from '../../domain/events/catalog.js';
import { afterAttempt, isSuccess, shouldDisable, type RetrySettings } from '../../domain/events/delivery-policy.js';
import type { Clock } from '../../shared/clock.js';
import { createCoalescer } from '../../shared/coalescer.js';
import { describeError } from '../../shared/error-description.js';
import { postOutbound, type OutboundPolicy } from '../../shared/outbound-url.js';
import { EVENTS_CHANNEL, recordEvent } from './events.writer.js';
import { subscriptionAlarmId } from './subscriptions.service.js';
import { advanceChains, claimDeliveries, claimDeliveriesIn, dispatchEvents, type ClaimedDelivery, type ClaimInput } from './webhook-dispatch.js';
import { messageIdOf, signDelivery } from './webhook-signing.js';
import { webhookDeliveries, webhookSubscriptions } from './webhooks.table.js';

export interface WebhookPumpSettings {
  retry: RetrySettings;
  timeoutMs: number;
  maxInFlightPerSubscription: number;
  disableAfterFailures: number;
  outbound: OutboundPolicy;
}

export interface WebhookPumpDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  databaseUrl: string;
  settings: WebhookPumpSettings;
}

/** Requests in flight per process, whatever the number of subscriptions. */
const PROCESS_IN_FLIGHT = 256;
/** With nothing to do, look again this often (retries coming due, a missed notification). */
const IDLE_POLL_MS = 250;
/** Events committed behind an older running transaction are looked at again this soon. */
const BLOCKED_POLL_MS = 20;
const LISTEN_RETRY_MS = 2_000;

/** A wake-up that is not lost when it comes while its loop is busy: the loop's next wait returns at once. */
function createSignal() {
  let pending = false;
  let resolveWait: (() => void) | null = null;
  return {
    notify() {
      const resolve = resolveWait;
      resolveWait = null;
      if (resolve) resolve();
      else pending = true;
    },
    wait(ms: number): Promise<void> {
      if (pending) {
        pending = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          resolveWait = null;
          resolve();
        }, ms);
        resolveWait = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    },
  };
}

/**
 * Delivers webhooks: per worker process, a dispatch loop that turns new outbox events into
 * deliveries (woken by the outbox's NOTIFY at commit) and a claim loop that sends the
 * deliveries that may go out (woken by each dispatch and each settlement), neither waiting
 * for a request (a hanging subscriber holds its own slots until its timeout, never a loop or
 * other subscribers). Both poll when idle, for retries coming due.
 *
 * The cycle of a slot is what bounds a subscription's throughput (its in-flight limit / the
 * time from one claim of a slot to the next): a settlement therefore claims the next
 * deliveries in the transaction that frees the slots, and the claim answers each delivery with
 * its event and subscription, so a slot goes claim -> POST -> settle-and-claim -> POST without
 * waiting for a loop.
 *
 * Postgres rather than one BullMQ job per delivery: the order per resource and the limit per
 * subscription are conditions over the deliveries' rows, which a claim query decides atomically
 * across processes; a queue would need the same rows and add a second source of truth.
 */
export function createWebhookPump(deps: WebhookPumpDeps) {
  const { db, clock, logger, settings } = deps;
  let running = false;
  /** Deliveries claimed by this process and not yet settled. */
  let inFlight = 0;
  /** Slots a running claim may fill (counted before it answers). */
  let reserved = 0;
  const dispatchSignal = createSignal();
  const claimSignal = createSignal();
  let listener: pg.Client | null = null;
  let listenRetry: NodeJS.Timeout | null = null;
  let loopsDone: Promise<unknown> = Promise.resolve();
  const sends = new Set<Promise<void>>();

  const claimInput = (now: Date, capacity: number): ClaimInput => ({ now, leaseUntil: new Date(now.getTime() + settings.timeoutMs + 60_000), capacity, maxInFlight: settings.maxInFlightPerSubscription });

  /** Runs a claim of up to `extra` + the process's free slots (0: claims nothing), then starts what it took. */
  async function claimWith(extra: number, claim: (capacity: number) => Promise<ClaimedDelivery[]>): Promise<number> {
    // Nothing new once closing: a settlement still records its batch, claiming nothing.
    const capacity = running ? extra + Math.max(0, PROCESS_IN_FLIGHT - inFlight - reserved) : 0;
    reserved += capacity;
    let claimed: ClaimedDelivery[];
    try {
      claimed = await claim(capacity);
    } finally {
      reserved -= capacity;
    }
    for (const c of claimed) start(c);
    return claimed.length;
  }

  // Attempts finishing together are recorded in one transaction: at 1,000 deliveries a second,
  // a transaction per delivery would be the pump's bottleneck. The same transaction claims the
  // next deliveries for the slots it frees. Failures for good go alone (settle below): they
  // may disable the subscription.
  type Settlement = {
    id: string;
    attempts: number;
    state: 'succeeded' | 'pending';
    nextAttemptAt: string | null;
    status: number | null;
    latencyMs: number;
    error: string | null;
  };
  const settlements = createCoalescer<Settlement, void>(
    async (batch) => {
      const now = clock.now();
      let claimedNow = 0;
      await claimWith(batch.length, (capacity) =>
        db.transaction(async (tx) => {
          const updated = await tx.execute<{ subscription_id: string; resource_key: string; state: string }>(sql`
            with v as (
              select * from jsonb_to_recordset(${JSON.stringify(batch)}::jsonb)
                as v(id uuid, attempts int, state text, "nextAttemptAt" timestamptz, status int, "latencyMs" int, error text)
            )
            update webhook_deliveries d
               set state = v.state,
                   next_attempt_at = coalesce(v."nextAttemptAt", d.next_attempt_at),
                   delivered_at = case when v.state = 'succeeded' then ${now}::timestamptz else d.delivered_at end,
                   last_response_code = v.status, last_latency_ms = v."latencyMs", last_error = v.error, lease_until = null
              from v
             where d.id = v.id and d.state = 'delivering' and d.attempts = v.attempts
            returning d.subscription_id, d.resource_key, d.state`);
          await advanceChains(tx, updated.rows.map((r) => ({ subscriptionId: r.subscription_id, resourceKey: r.resource_key })));
          const succeeded = [...new Set(updated.rows.filter((r) => r.state === 'succeeded').map((r) => r.subscription_id))];
          if (succeeded.length > 0) {
            await tx.execute(sql`
              update webhook_subscriptions set consecutive_failures = 0
               where id in (select jsonb_array_elements_text(${JSON.stringify(succeeded)}::jsonb)::uuid) and consecutive_failures <> 0`);
          }
          const claimed = await claimDeliveriesIn(tx, claimInput(now, capacity));
          claimedNow = claimed.length;
          return claimed;
        }),
      );
      // Slots this batch freed that its claim did not fill (nothing due, or another claimer held
      // the subscription): the claim loop looks again.
      if (claimedNow < batch.length) claimSignal.notify();
      return batch.map(() => undefined);
    },
    { maxBatch: 500, maxInFlight: 2 },
  );

  // Keep-alive connections per subscription (at most its in-flight limit): a new TCP (and TLS)
  // handshake per delivery doubled the receiver's work and the pump's. A pool belongs to one
  // URL; a subscription whose URL changed gets a new one. Every new connection still passes
  // the SSRF guard's lookup (postOutbound), and the policy does not change while we run.
  const agents = new Map<string, { url: string; agent: http.Agent }>();
  function agentFor(subscriptionId: string, url: string): http.Agent {
    const current = agents.get(subscriptionId);
    if (current?.url === url) return current.agent;
    current?.agent.destroy();
    const options = { keepAlive: true, maxSockets: settings.maxInFlightPerSubscription, maxFreeSockets: settings.maxInFlightPerSubscription, scheduling: 'lifo' as const };
    const agent = url.startsWith('https:') ? new https.Agent(options) : new http.Agent(options);
    agents.set(subscriptionId, { url, agent });
    return agent;
  }

  const wake = () => {
    dispatchSignal.notify();
    claimSignal.notify();
  };

  async function listen() {
    if (!running || listener) return;
    const client = new pg.Client({ connectionString: deps.databaseUrl, application_name: 'complaint-desk webhooks' });
    client.on('notification', () => dispatchSignal.notify());
    client.on('error', (error) => {
      logger.warn({ err: describeError(error) }, 'webhook listener lost its connection; polling until it is back');
      if (listener === client) listener = null;
      client.end().catch(() => undefined);
      scheduleListen();
    });
    try {
      await client.connect();
      await client.query(`listen ${EVENTS_CHANNEL}`);
      if (!running) {
        await client.end();
        return;
      }
      listener = client;
    } catch (error) {
      client.end().catch(() => undefined);
      logger.warn({ err: describeError(error) }, 'webhook listener could not connect; polling meanwhile');
      scheduleListen();
    }
  }

  function scheduleListen() {
    if (!running || listenRetry) return;
    listenRetry = setTimeout(() => {
      listenRetry = null;
      void listen();
    }, LISTEN_RETRY_MS);
    listenRetry.unref();
  }

  /** Sends a claimed delivery in the background and settles it; the slot is this process's until then. */
  function start(claimed: ClaimedDelivery) {
    inFlight += 1;
    const task = (claimed.event && claimed.target ? send(claimed, claimed.event, claimed.target) : settle(claimed, { status: null, error: 'event or subscription gone', latencyMs: 0 }))
      .catch((error: unknown) => logger.warn({ err: describeError(error), deliveryId: claimed.id }, 'webhook delivery could not be recorded; its lease will expire and it is retried'))
      .finally(() => {
        inFlight -= 1;
        sends.delete(task);
      });
    sends.add(task);
  }

  async function send(claimed: ClaimedDelivery, event: DomainEventEnvelope, target: NonNullable<ClaimedDelivery['target']>): Promise<void> {
    const now = clock.now();
    const secrets = [target.secret];
    if (target.previousSecret && target.previousSecretExpiresAt && target.previousSecretExpiresAt > now) secrets.push(target.previousSecret);
    const body = JSON.stringify(event);
    const headers = { 'content-type': 'application/json', 'user-agent': 'complaint-desk-webhooks/1', ...signDelivery({ messageId: messageIdOf(claimed.event_id), timestamp: now, body, secrets }) };
    const started = performance.now();
    let status: number | null = null;
    let error: string | null = null;
    try {
      status = await postOutbound(target.url, { headers, body, timeoutMs: settings.timeoutMs, agent: agentFor(claimed.subscription_id, target.url) }, settings.outbound);
      if (!isSuccess(status)) error = `answered ${status}`;
    } catch (e) {
      const name = (e as { name?: string }).name;
      error = name === 'TimeoutError' || name === 'AbortError' ? `no answer within ${settings.timeoutMs} ms` : ((e as NodeJS.ErrnoException).code ?? (e as Error).message ?? 'request failed');
    }
    const latencyMs = Math.round(performance.now() - started);
    await settle(claimed, { status, error, latencyMs });
  }

  async function settle(claimed: ClaimedDelivery, result: { status: number | null; error: string | null; latencyMs: number }) {
    const now = clock.now();
    const outcome = afterAttempt({ ok: isSuccess(result.status), attempts: claimed.attempts, now, expiresAt: claimed.expires_at, random: Math.random() }, settings.retry);
    if (outcome.state !== 'failed') {
      await settlements.request({
        id: claimed.id,
        attempts: claimed.attempts,
        state: outcome.state,
        nextAttemptAt: outcome.state === 'pending' ? outcome.nextAttemptAt.toISOString() : null,
        status: result.status,
        latencyMs: result.latencyMs,
        error: result.error,
      });
      return;
    }
    // Out of retries: failed for good, the chain moves on, and perhaps the subscription is disabled.
    await db.transaction(async (tx) => {
      const updated = await tx
        .update(webhookDeliveries)
        .set({ lastResponseCode: result.status, lastLatencyMs: result.latencyMs, lastError: result.error, leaseUntil: null, state: 'failed' })
        .where(and(eq(webhookDeliveries.id, claimed.id), eq(webhookDeliveries.state, 'delivering'), eq(webhookDeliveries.attempts, claimed.attempts)))
        .returning({ id: webhookDeliveries.id });
      if (updated.length === 0) return;
      await advanceChains(tx, [{ subscriptionId: claimed.subscription_id, resourceKey: claimed.resource_key }]);
      const [sub] = await tx
        .update(webhookSubscriptions)
        .set({ consecutiveFailures: sql`${webhookSubscriptions.consecutiveFailures} + 1` })
        .where(eq(webhookSubscriptions.id, claimed.subscription_id))
        .returning();
      if (!sub || !sub.active || !shouldDisable(sub.consecutiveFailures, settings.disableAfterFailures)) return;
      const reason = `${sub.consecutiveFailures} deliveries in a row failed after ${settings.retry.retryHours} h of retries (last: ${result.error ?? 'no answer'})`;
      await tx.update(webhookSubscriptions).set({ active: false, disabledReason: reason, disabledAt: now, updatedAt: now }).where(eq(webhookSubscriptions.id, sub.id));
      await recordEvent(tx, {
        type: 'alarm.raised',
        resource: { type: 'alarm', id: subscriptionAlarmId(sub.id) },
        data: { alarmId: subscriptionAlarmId(sub.id), source: 'webhook_subscription', targetId: sub.id, detail: `webhook subscription disabled: ${reason}`, value: sub.consecutiveFailures },
        occurredAt: now,
      });
      logger.warn({ subscriptionId: sub.id, failures: sub.consecutiveFailures }, 'webhook subscription disabled after failing persistently');
    });
    claimSignal.notify();
  }

  /** Dispatches new outbox events into deliveries, and tells the claim loop when there were any. */
  async function dispatchLoop() {
    while (running) {
      let next = IDLE_POLL_MS;
      try {
        const dispatched = await dispatchEvents(db, clock.now(), settings.retry);
        // Any event, even one no subscription takes: a chain may wait for it (an earlier event of its resource).
        if (dispatched.events > 0) claimSignal.notify();
        if (dispatched.more) continue;
        if (dispatched.blocked) next = BLOCKED_POLL_MS;
      } catch (error) {
        logger.warn({ err: describeError(error) }, 'webhook dispatch failed; trying again');
        next = IDLE_POLL_MS * 4;
      }
      if (running) await dispatchSignal.wait(next);
    }
  }

  /** Claims and starts what may go out, as long as there is any. */
  async function claimLoop() {
    while (running) {
      let next = IDLE_POLL_MS;
      try {
        const claimed = await claimWith(0, (capacity) => claimDeliveries(db, claimInput(clock.now(), capacity)));
        if (claimed > 0) continue;
      } catch (error) {
        logger.warn({ err: describeError(error) }, 'webhook claim failed; trying again');
        next = IDLE_POLL_MS * 4;
      }
      if (running) await claimSignal.wait(next);
    }
  }

  return {
    async start() {
      if (running) return;
      running = true;
      await listen();
      loopsDone = Promise.all([dispatchLoop(), claimLoop()]);
    },
    /** Look now (after a change that makes something deliverable, e.g. a redelivery). */
    wake,
    async close() {
      running = false;
      if (listenRetry) clearTimeout(listenRetry);
      wake();
      await loopsDone;
      // A settlement that was already claiming may start a few more sends: wait for those too.
      while (sends.size > 0) await Promise.allSettled([...sends]);
      for (const { agent } of agents.values()) agent.destroy();
      agents.clear();
      const client = listener;
      listener = null;
      await client?.end().catch(() => undefined);
    },
  };
}

export type WebhookPump = ReturnType<typeof createWebhookPump>;
