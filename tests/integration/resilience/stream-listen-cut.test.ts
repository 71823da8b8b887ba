import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishStreamEvent } from '../../../src/modules/sla/breaches/stream-events.repository.js';
import { LISTENER_APPLICATION_NAME } from '../../../src/modules/sla/breaches/sla.stream.js';
import { systemClock } from '../../../src/shared/clock.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { closeListening, listen } from '../../helpers/listen.js';
import { openSse } from '../../helpers/sla.js';
import { terminateBackends } from './support.js';

/**
 * The SSE hub's LISTEN connection cut (a terminated backend, a Postgres restart): it comes
 * back by itself, without waiting for a new subscriber, and the clients already connected get
 * every event, including those committed while it was away.
 */
let ctx: TestContext;
let base: string;

beforeAll(async () => {
  ctx = await createTestContext({ clock: systemClock });
  base = await listen(ctx.app);
});
afterAll(async () => {
  await closeListening(ctx?.app.server, async () => ctx?.close());
});

const publish = (ticketId: string) => ctx.deps.db.transaction((tx) => publishStreamEvent(tx, 'breach', { ticketId, metric: 'first_response' }, new Date()));

describe('the event stream after its LISTEN connection is cut', () => {
  it('reconnects by itself and delivers what was committed meanwhile to connected clients', async () => {
    const stream = await openSse(`${base}/v1/sla/stream`, ctx.adminToken);
    try {
      expect(stream.response.status).toBe(200);
      await publish('before-the-cut');
      await stream.waitFor((e) => e.data.ticketId === 'before-the-cut');

      expect(await terminateBackends(ctx.databaseUrl, LISTENER_APPLICATION_NAME)).toBe(1);
      // Committed while the listener is (very likely) still away: its notification goes nowhere.
      await publish('during-the-cut');
      await stream.waitFor((e) => e.data.ticketId === 'during-the-cut', 15_000);
      // And the live path works again (a fresh notification on the new connection).
      await publish('after-the-cut');
      await stream.waitFor((e) => e.data.ticketId === 'after-the-cut', 15_000);
      const ids = stream.received.filter((e) => e.event === 'breach').map((e) => e.data.ticketId);
      expect(ids).toEqual(['before-the-cut', 'during-the-cut', 'after-the-cut']);
    } finally {
      await stream.close();
    }
  });
});
