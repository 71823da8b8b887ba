import type { Config } from '../../config.js';
import type { Dependencies } from '../../dependencies.js';
import type { Guard } from '../../http/auth.js';
import type { App } from '../../http/types.js';
import { createStreamHub } from '../sla/breaches/sla.stream.js';
import { DOMAIN_EVENTS_SOURCE, registerEventRoutes } from './events.routes.js';
import { createSubscriptionService } from './subscriptions.service.js';
import { registerSubscriptionRoutes } from './subscriptions.routes.js';
import { createWebhookPump, type WebhookPump, type WebhookPumpSettings } from './webhook-pump.js';

/** The webhook settings, from the environment (src/config.ts). */
export function webhookSettingsOf(config: Config): WebhookPumpSettings & { secretOverlapHours: number } {
  return {
    retry: { backoffMs: config.WEBHOOK_BACKOFF_MS, retryHours: config.WEBHOOK_RETRY_HOURS },
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    maxInFlightPerSubscription: config.WEBHOOK_MAX_IN_FLIGHT,
    disableAfterFailures: config.WEBHOOK_DISABLE_AFTER_FAILURES,
    // The private-address switch also allows plain http: local receivers do not speak TLS.
    outbound: { allowPrivate: config.WEBHOOK_ALLOW_PRIVATE, allowHttp: config.WEBHOOK_ALLOW_PRIVATE },
    secretOverlapHours: config.WEBHOOK_SECRET_OVERLAP_HOURS,
  };
}

/** The API side of events (issue 15): the catalog, the live stream, webhook subscriptions. */
export function registerEvents(app: App, deps: Dependencies, guard: Guard): void {
  const settings = webhookSettingsOf(deps.config);
  const hub = createStreamHub({ databaseUrl: deps.config.DATABASE_URL, db: deps.db, logger: deps.logger, link: deps.links.postgres, source: DOMAIN_EVENTS_SOURCE });
  // preClose, not onClose: open event streams must end before the server waits for its connections.
  app.addHook('preClose', async () => hub.close());
  registerEventRoutes(app, { db: deps.db, guard, hub });
  const subscriptions = createSubscriptionService({ db: deps.db, clock: deps.clock, outbound: settings.outbound, retry: settings.retry, secretOverlapHours: settings.secretOverlapHours });
  registerSubscriptionRoutes(app, { guard, subscriptions });
}

/** The worker side: the delivery pump (one per worker process). */
export async function startWebhookPump(deps: Dependencies): Promise<WebhookPump> {
  const pump = createWebhookPump({ db: deps.db, clock: deps.clock, logger: deps.logger, databaseUrl: deps.config.DATABASE_URL, settings: webhookSettingsOf(deps.config) });
  await pump.start();
  return pump;
}
