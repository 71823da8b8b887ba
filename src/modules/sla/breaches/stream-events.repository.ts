import { sql, type SQL } from 'drizzle-orm';
import type { Executor } from '../../../db/client.js';
import { slaStreamEvents } from '../sla.table.js';

/** Records an operations event; NOTIFY wakes every API process's SSE hub at commit. */
export async function publishStreamEvent(tx: Executor, type: string, data: Record<string, unknown>, now: Date): Promise<void> {
  const [row] = await tx.insert(slaStreamEvents).values({ type, data, createdAt: now }).returning({ id: slaStreamEvents.id });
  await tx.execute(sql`select pg_notify(${STREAM_CHANNEL}, ${String(row!.id)})`);
}

export const STREAM_CHANNEL = 'sla_stream';

/**
 * The batch form, as a statement to run inside a larger one (a CTE): `select` yields, in
 * order, type, data, created_at. Returns the ids; the caller notifies STREAM_CHANNEL once.
 */
export function publishStreamEventsFrom(select: SQL): SQL {
  return sql`insert into sla_stream_events (type, data, created_at) ${select} returning id`;
}
