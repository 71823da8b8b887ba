import net from 'node:net';
import tls from 'node:tls';
import { and, desc, eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { isEventType } from '../../domain/events/catalog.js';
import { expiryOf, type RetrySettings } from '../../domain/events/delivery-policy.js';
import type { Clock } from '../../shared/clock.js';
import { badRequest, conflict, notFound } from '../../shared/errors.js';
import { assertOutboundUrl, guardedLookup, OutboundUrlError, type OutboundPolicy } from '../../shared/outbound-url.js';
import { recordEvent } from './events.writer.js';
import { generateSecret } from './webhook-signing.js';
import { webhookDeliveries, webhookSubscriptions, type DeliveryState } from './webhooks.table.js';

type SubscriptionRow = typeof webhookSubscriptions.$inferSelect;
type DeliveryRow = typeof webhookDeliveries.$inferSelect;

export interface SubscriptionView {
  id: string;
  url: string;
  description: string | null;
  eventTypes: string[] | null;
  active: boolean;
  disabledReason: string | null;
  disabledAt: Date | null;
  previousSecretExpiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface SubscriptionInput {
  url: string;
  eventTypes?: string[] | null | undefined;
  description?: string | null | undefined;
  active?: boolean | undefined;
}

export interface SubscriptionServiceDeps {
  db: Database;
  clock: Clock;
  outbound: OutboundPolicy;
  retry: RetrySettings;
  secretOverlapHours: number;
  /** How long the reachability check at creation waits for a connection. */
  connectTimeoutMs?: number;
}

/** The alarm id of a subscription disabled for failing (one per subscription). */
export const subscriptionAlarmId = (subscriptionId: string) => `webhook-subscription:${subscriptionId}`;

const toView = (row: SubscriptionRow): SubscriptionView => ({
  id: row.id,
  url: row.url,
  description: row.description,
  eventTypes: row.eventTypes,
  active: row.active,
  disabledReason: row.disabledReason,
  disabledAt: row.disabledAt,
  previousSecretExpiresAt: row.previousSecretExpiresAt,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

export const toDeliveryView = (row: DeliveryRow) => ({
  id: row.id,
  eventId: row.eventId,
  eventType: row.eventType,
  state: row.state,
  attempts: row.attempts,
  lastResponseCode: row.lastResponseCode,
  lastLatencyMs: row.lastLatencyMs,
  lastError: row.lastError,
  lastAttemptAt: row.lastAttemptAt,
  nextAttemptAt: row.state === 'pending' ? row.nextAttemptAt : null,
  deliveredAt: row.deliveredAt,
  expiresAt: row.expiresAt,
  createdAt: row.createdAt,
});

function checkTypes(types: string[] | null | undefined): string[] | null {
  if (types === undefined || types === null) return null;
  types.forEach((type, i) => {
    if (!isEventType(type)) throw badRequest(`body.eventTypes[${i}]`, `unknown event type "${type}" (see GET /v1/events/types)`);
  });
  return [...new Set(types)];
}

/**
 * Opens (and closes) a connection to the URL's host and port through the SSRF guard: a URL
 * nobody answers at is refused when it is saved, not discovered a day of retries later.
 */
function probe(url: URL, policy: OutboundPolicy, timeoutMs: number): Promise<void> {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const options = { host, port, lookup: guardedLookup(policy), timeout: timeoutMs };
    const socket = url.protocol === 'https:' ? tls.connect({ ...options, servername: net.isIP(host) ? undefined : host }) : net.connect(options);
    const done = (error?: Error) => {
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => done());
    socket.once('timeout', () => done(new Error(`no connection within ${timeoutMs} ms`)));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error instanceof OutboundUrlError ? error : new Error(error.code ?? error.message)));
  });
}

export function createSubscriptionService(deps: SubscriptionServiceDeps) {
  const { db, clock } = deps;

  async function checkUrl(raw: string): Promise<string> {
    let url: URL;
    try {
      url = await assertOutboundUrl(raw, deps.outbound);
    } catch (error) {
      if (error instanceof OutboundUrlError) throw badRequest('body.url', error.message);
      throw error;
    }
    try {
      await probe(url, deps.outbound, deps.connectTimeoutMs ?? 5_000);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw badRequest('body.url', `is unreachable: ${reason}`);
    }
    return url.toString();
  }

  async function get(id: string): Promise<SubscriptionRow> {
    const [row] = await db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.id, id));
    if (!row) throw notFound('Webhook subscription', id);
    return row;
  }

  return {
    /** Creates a subscription; the answer is the only time its secret is shown. */
    async create(input: SubscriptionInput): Promise<SubscriptionView & { secret: string }> {
      const eventTypes = checkTypes(input.eventTypes);
      const url = await checkUrl(input.url);
      const now = clock.now();
      const secret = generateSecret();
      const [row] = await db
        .insert(webhookSubscriptions)
        .values({ url, eventTypes, description: input.description ?? null, active: input.active ?? true, secret, createdAt: now, updatedAt: now })
        .returning();
      return { ...toView(row!), secret };
    },

    async list(): Promise<SubscriptionView[]> {
      const rows = await db.select().from(webhookSubscriptions).orderBy(desc(webhookSubscriptions.createdAt), desc(webhookSubscriptions.id));
      return rows.map(toView);
    },

    async read(id: string): Promise<SubscriptionView> {
      return toView(await get(id));
    },

    /** Changes url, types, description or active; re-enabling a disabled subscription clears its alarm. */
    async update(id: string, input: Partial<SubscriptionInput>): Promise<SubscriptionView> {
      const eventTypes = input.eventTypes === undefined ? undefined : checkTypes(input.eventTypes);
      const url = input.url === undefined ? undefined : await checkUrl(input.url);
      const now = clock.now();
      return db.transaction(async (tx) => {
        const [current] = await tx.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.id, id)).for('update');
        if (!current) throw notFound('Webhook subscription', id);
        const reenabled = input.active === true && !current.active && current.disabledReason !== null;
        const [row] = await tx
          .update(webhookSubscriptions)
          .set({
            ...(url !== undefined ? { url } : {}),
            ...(eventTypes !== undefined ? { eventTypes } : {}),
            ...(input.description !== undefined ? { description: input.description } : {}),
            ...(input.active !== undefined ? { active: input.active, ...(input.active ? { disabledReason: null, disabledAt: null, consecutiveFailures: 0 } : {}) } : {}),
            updatedAt: now,
          })
          .where(eq(webhookSubscriptions.id, id))
          .returning();
        if (reenabled) {
          await recordEvent(tx, { type: 'alarm.cleared', resource: { type: 'alarm', id: subscriptionAlarmId(id) }, data: { alarmId: subscriptionAlarmId(id), source: 'webhook_subscription', targetId: id, value: null }, occurredAt: now });
        }
        return toView(row!);
      });
    },

    async remove(id: string): Promise<void> {
      const deleted = await db.delete(webhookSubscriptions).where(eq(webhookSubscriptions.id, id)).returning({ id: webhookSubscriptions.id });
      if (deleted.length === 0) throw notFound('Webhook subscription', id);
    },

    /**
     * A new secret, shown once. The previous one keeps signing (a second signature in the same
     * header) for the overlap period, so the subscriber can switch without a rejected delivery.
     */
    async rotateSecret(id: string): Promise<{ secret: string; previousSecretExpiresAt: Date | null }> {
      const now = clock.now();
      const current = await get(id);
      const secret = generateSecret();
      const expires = deps.secretOverlapHours > 0 ? new Date(now.getTime() + deps.secretOverlapHours * 3_600_000) : null;
      await db
        .update(webhookSubscriptions)
        .set({ secret, previousSecret: expires ? current.secret : null, previousSecretExpiresAt: expires, updatedAt: now })
        .where(eq(webhookSubscriptions.id, id));
      return { secret, previousSecretExpiresAt: expires };
    },

    async deliveries(id: string, options: { state?: DeliveryState | undefined; limit: number; before?: { createdAt: Date; id: string } | undefined }) {
      await get(id);
      return db
        .select()
        .from(webhookDeliveries)
        .where(
          and(
            eq(webhookDeliveries.subscriptionId, id),
            options.state ? eq(webhookDeliveries.state, options.state) : undefined,
            options.before ? sql`(${webhookDeliveries.createdAt}, ${webhookDeliveries.id}) < (${options.before.createdAt.toISOString()}::timestamptz, ${options.before.id}::uuid)` : undefined,
          ),
        )
        .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
        .limit(options.limit);
    },

    /** Sends the delivery's event again, as a new delivery (the old one keeps its history). */
    async redeliver(subscriptionId: string, deliveryId: string) {
      const now = clock.now();
      const [old] = await db
        .select()
        .from(webhookDeliveries)
        .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.subscriptionId, subscriptionId)));
      if (!old) throw notFound('Delivery', deliveryId);
      if (old.state === 'pending' || old.state === 'delivering') throw conflict('delivery-in-progress', 'The delivery is still being attempted; redeliver once it succeeded or failed');
      return db.transaction(async (tx) => {
        const [row] = await tx
          .insert(webhookDeliveries)
          .values({ subscriptionId, eventId: old.eventId, eventType: old.eventType, resourceKey: old.resourceKey, nextAttemptAt: now, expiresAt: expiryOf(now, deps.retry), createdAt: now })
          .returning();
        // Its chain (webhook-dispatch.ts): due now unless its head is being delivered; the claim
        // sends the chain's lowest event first, and puts back the head's own due time if that is later.
        await tx.execute(sql`
          insert into webhook_delivery_chains as c (subscription_id, resource_key, due_at)
          values (${subscriptionId}, ${old.resourceKey}, ${now})
          on conflict (subscription_id, resource_key) do update set due_at = least(c.due_at, excluded.due_at) where not c.in_flight`);
        return row!;
      });
    },
  };
}

export type SubscriptionService = ReturnType<typeof createSubscriptionService>;
