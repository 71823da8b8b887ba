import { randomUUID } from 'node:crypto';
import { and, eq, notInArray, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database, Executor } from '../../../db/client.js';
import { unlessRedisIsAway, type Queues } from '../../../queues/queues.js';
import type { Clock } from '../../../shared/clock.js';
import type { TicketChange, TicketHooks } from '../../tickets/tickets.hooks.js';
import { appendEvents, lockTicket } from '../../tickets/tickets.repository.js';
import { tickets } from '../../tickets/tickets.table.js';
import type { PolicyCache } from '../policies/policy.cache.js';
import { slaRecomputeRequests } from '../sla.table.js';

export interface RecomputeRequest {
  policyId: string;
  requestId: string;
}

/** One job per request: the reconciler's re-enqueue of a request still queued collapses into it. */
const recomputeJobId = (r: RecomputeRequest) => `sla-recompute-${r.policyId}-${r.requestId}`;

/**
 * Recomputing the running clocks of the tickets under a policy after the policy (or its
 * calendar) changed. The change records its request in its own transaction (`request`), and
 * queues the jobs after commit (`enqueue`); a job that could not be queued (Redis away) is
 * queued by the reconciler (`enqueuePending`) once Redis is back, so an edit is never left
 * with running clocks on stale due times.
 */
export function createSlaRecompute(deps: { db: Database; clock: Clock; logger: Logger; queues: Queues; policies: PolicyCache; hooks: TicketHooks }) {
  const { db, clock, logger, queues } = deps;

  const addJobs = (requests: RecomputeRequest[]) =>
    queues.maintenance.addBulk(requests.map((r) => ({ name: 'sla-recompute' as const, data: r, opts: { jobId: recomputeJobId(r) } })));

  /**
   * Every open ticket the policy governed re-matches the policies and recomputes its running
   * clocks, one short transaction per ticket.
   */
  async function recomputeTickets(policyId: string): Promise<number> {
    deps.policies.invalidate();
    const rows = await db
      .select({ id: tickets.id })
      .from(tickets)
      .where(and(eq(tickets.slaPolicyId, policyId), notInArray(tickets.status, ['solved', 'closed'])));
    for (const { id } of rows) {
      const changes: TicketChange[] = [];
      await db.transaction(async (tx) => {
        const ticket = await lockTicket(tx, id);
        if (!ticket) return;
        const now = clock.now();
        const events = [{ type: 'sla_recomputed', data: { policyId } }];
        await appendEvents(tx, id, { kind: 'system', id: 'sla' }, events, now);
        const change = { ticket, events, now };
        await deps.hooks.inTransaction(tx, change);
        changes.push(change);
      });
      await deps.hooks.afterCommit(changes, (error) => logger.error({ err: error }, 'recompute hook failed'));
    }
    return rows.length;
  }

  return {
    /** In the policy change's transaction: the policies whose tickets must recompute. */
    async request(tx: Executor, policyIds: string[]): Promise<RecomputeRequest[]> {
      const requestedAt = clock.now();
      const requests = policyIds.map((policyId) => ({ policyId, requestId: randomUUID() }));
      if (requests.length === 0) return requests;
      await tx
        .insert(slaRecomputeRequests)
        .values(requests.map((r) => ({ ...r, requestedAt })))
        .onConflictDoUpdate({ target: slaRecomputeRequests.policyId, set: { requestId: sql`excluded.request_id`, requestedAt } });
      return requests;
    },

    /** After commit. While Redis is away the requests wait in Postgres for the reconciler. */
    async enqueue(requests: RecomputeRequest[]): Promise<void> {
      if (requests.length > 0 && !(await unlessRedisIsAway(() => addJobs(requests)))) logger.warn({ policies: requests.map((r) => r.policyId) }, 'policy recompute not queued (redis unavailable); the reconciler will queue it');
    },

    /** The reconciler: queues a job for every request left, the repair of a failed enqueue. */
    async enqueuePending(): Promise<number> {
      const pending = await db.select({ policyId: slaRecomputeRequests.policyId, requestId: slaRecomputeRequests.requestId }).from(slaRecomputeRequests);
      if (pending.length > 0) await addJobs(pending);
      return pending.length;
    },

    /**
     * The sla-recompute job. A request replaced by a newer edit is left to that edit's job; a
     * job queued before requests existed (no requestId) recomputes unconditionally.
     */
    async run(job: { policyId: string; requestId?: string | undefined }): Promise<number | 'superseded'> {
      if (job.requestId) {
        const [current] = await db.select({ requestId: slaRecomputeRequests.requestId }).from(slaRecomputeRequests).where(eq(slaRecomputeRequests.policyId, job.policyId));
        if (!current || current.requestId !== job.requestId) return 'superseded';
      }
      const recomputed = await recomputeTickets(job.policyId);
      if (job.requestId) await db.delete(slaRecomputeRequests).where(and(eq(slaRecomputeRequests.policyId, job.policyId), eq(slaRecomputeRequests.requestId, job.requestId)));
      return recomputed;
    },
  };
}

export type SlaRecompute = ReturnType<typeof createSlaRecompute>;
