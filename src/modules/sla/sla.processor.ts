import { and, asc, eq, isNull, lte, ne, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database, Executor } from '../../db/client.js';
import { escalationSchedule, planActions } from '../../domain/sla/escalation.js';
import { isDue, markBreached, markWarned } from '../../domain/sla/sla-clocks.js';
import { assign, type Priority } from '../../domain/ticket-lifecycle.js';
import type { Queues } from '../../queues/queues.js';
import type { Clock } from '../../shared/clock.js';
import type { Metrics } from '../../shared/metrics.js';
import { agents } from '../agents/agents.table.js';
import { teams } from '../teams/teams.table.js';
import type { TicketChange, TicketHooks } from '../tickets/tickets.hooks.js';
import { appendEvents, lockTicket, type Actor, type NewEvent } from '../tickets/tickets.repository.js';
import { lifecycleStateOf } from '../tickets/tickets.service.js';
import { tickets } from '../tickets/tickets.table.js';
import { clockColumns, publishStreamEvent, severityOf, toDomainClock, type PolicyCache } from './sla.repository.js';
import { breaches, slaClocks } from './sla.table.js';

const SYSTEM: Actor = { kind: 'system', id: 'sla' };

export interface SlaProcessorDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  queues: Queues;
  policies: PolicyCache;
  hooks: TicketHooks;
  metrics: Metrics;
}

export type FireResult = 'fired' | 'stale' | 'early';

export const escalationJobId = (breachId: string, level: number) => `esc-${breachId}-${level}`;

/**
 * Acts on SLA deadlines. Every path (a timer job, the reconciler, a duplicate job on another
 * worker) goes through fire(): lock the clock row, re-check it against the engine, act once.
 */
export function createSlaProcessor(deps: SlaProcessorDeps) {
  const { db, clock, logger, queues, metrics } = deps;

  async function fire(kind: 'warning' | 'breach', clockId: string, generation: number): Promise<FireResult> {
    const now = clock.now();
    const scheduled: { breachId: string; level: number; delay: number }[] = [];
    let lateness: { seconds: number; channel: string; metric: string } | null = null;
    const result = await db.transaction(async (tx): Promise<FireResult> => {
      const [row] = await tx.select().from(slaClocks).where(eq(slaClocks.id, clockId)).for('update');
      if (!row) return 'stale';
      const current = toDomainClock(row);
      if (!isDue(current, kind, now, generation)) {
        const dueAt = kind === 'warning' ? current.warnDueAt : current.dueAt;
        const early = current.state === 'running' && current.generation === generation && dueAt && dueAt > now;
        return early ? 'early' : 'stale';
      }
      const [ticket] = await tx.select().from(tickets).where(eq(tickets.id, row.ticketId));
      if (!ticket) return 'stale';
      const base = { ticketId: ticket.id, ticketNumber: ticket.number, channel: ticket.channel, metric: current.metric, dueAt: current.dueAt };
      if (kind === 'warning') {
        const warned = markWarned(current, now);
        await tx.update(slaClocks).set({ warnedAt: warned.warnedAt, updatedAt: now }).where(eq(slaClocks.id, clockId));
        await appendEvents(tx, ticket.id, SYSTEM, [{ type: 'sla_warning', data: { metric: current.metric, dueAt: current.dueAt } }], now);
        await publishStreamEvent(tx, 'warning', { ...base, warnedAt: now }, now);
        lateness = { seconds: (now.getTime() - (current.warnDueAt ?? now).getTime()) / 1000, channel: ticket.channel, metric: current.metric };
        return 'fired';
      }
      const breached = markBreached(current, now);
      await tx.update(slaClocks).set({ ...clockColumns(breached), updatedAt: now }).where(eq(slaClocks.id, clockId));
      const [breach] = await tx
        .insert(breaches)
        .values({
          ticketId: ticket.id,
          clockId,
          clockStartedAt: current.startedAt,
          policyId: row.policyId,
          metric: current.metric,
          channel: ticket.channel,
          teamId: ticket.teamId,
          severity: severityOf(ticket.priority),
          dueAt: current.dueAt ?? now,
          breachedAt: now,
        })
        .onConflictDoNothing()
        .returning();
      if (!breach) return 'stale';
      await appendEvents(tx, ticket.id, SYSTEM, [{ type: 'sla_breached', data: { metric: current.metric, dueAt: current.dueAt, breachId: breach.id } }], now);
      await publishStreamEvent(tx, 'breach', { ...base, breachId: breach.id, breachedAt: now }, now);
      const policy = row.policyId ? (await deps.policies.get(tx)).byId.get(row.policyId) : undefined;
      for (const step of policy ? escalationSchedule(policy, now) : []) {
        scheduled.push({ breachId: breach.id, level: step.level, delay: Math.max(0, step.dueAt.getTime() - now.getTime()) });
      }
      lateness = { seconds: (now.getTime() - (current.dueAt ?? now).getTime()) / 1000, channel: ticket.channel, metric: current.metric };
      return 'fired';
    });
    // Counted once committed, for warnings as for breaches: the histogram's `kind` label
    // shows whether each kind fires on time.
    if (lateness) {
      const l = lateness as { seconds: number; channel: string; metric: string };
      (kind === 'breach' ? metrics.slaBreaches : metrics.slaWarnings).inc({ channel: l.channel, metric: l.metric });
      metrics.timerLateness.observe({ kind }, l.seconds);
    }
    if (scheduled.length > 0) {
      await queues.slaEscalations
        .addBulk(scheduled.map((s) => ({ name: 'escalate' as const, data: { breachId: s.breachId, level: s.level }, opts: { jobId: escalationJobId(s.breachId, s.level), delay: s.delay } })))
        .catch((error) => logger.warn({ err: error }, 'could not schedule escalations; the reconciler will run them'));
    }
    return result;
  }

  /**
   * Runs one escalation level, if the breach is still open and this level has not run. A
   * ticket answered or solved meanwhile resolved the breach, which cancels what is left.
   */
  async function escalate(breachId: string, level: number): Promise<'escalated' | 'stale'> {
    // Levels run in order: a level whose job comes before its predecessor's (a backlog, a failed
    // attempt) runs the predecessor first, which would otherwise find a higher escalationLevel
    // and be skipped for good. Outside the transaction below: it locks the same breach row.
    if (level > 1) {
      const [current] = await db.select({ level: breaches.escalationLevel }).from(breaches).where(eq(breaches.id, breachId));
      if (current && current.level < level - 1) await escalate(breachId, level - 1);
    }
    const now = clock.now();
    const changes: TicketChange[] = [];
    const notify: { kind: 'agent'; agentId: string; role: string }[] = [];
    const external: ({ kind: 'webhook'; url: string } | { kind: 'email'; address: string })[] = [];
    let payload: Record<string, unknown> = {};
    const result = await db.transaction(async (tx) => {
      const [breach] = await tx.select().from(breaches).where(eq(breaches.id, breachId)).for('update');
      if (!breach || breach.state === 'resolved' || breach.escalationLevel >= level) return 'stale' as const;
      const policy = breach.policyId ? (await deps.policies.get(tx)).byId.get(breach.policyId) : undefined;
      const step = policy ? escalationSchedule(policy, breach.breachedAt).find((s) => s.level === level) : undefined;
      if (!step) return 'stale' as const;
      const ticket = await lockTicket(tx, breach.ticketId);
      if (!ticket) return 'stale' as const;
      const teamLeadId = ticket.teamId ? ((await tx.select({ lead: teams.leadAgentId }).from(teams).where(eq(teams.id, ticket.teamId)))[0]?.lead ?? null) : null;
      const plan = planActions(step.actions, { assigneeId: ticket.assigneeId, teamId: ticket.teamId, teamLeadId, priority: ticket.priority as Priority });
      const events: NewEvent[] = [{ type: 'escalated', data: { breachId, level, metric: breach.metric, skipped: plan.skipped.map((s) => s.reason) } }];
      const patch: Partial<typeof tickets.$inferInsert> = { escalationLevel: Math.max(ticket.escalationLevel, level) };
      if (plan.reassignment?.teamId && plan.reassignment.teamId !== ticket.teamId) {
        patch.teamId = plan.reassignment.teamId;
        events.push({ type: 'team_changed', data: { from: ticket.teamId, to: plan.reassignment.teamId, reason: 'escalation' } });
      }
      if (plan.reassignment && plan.reassignment.assigneeId !== undefined) {
        const t = assign(lifecycleStateOf(ticket), plan.reassignment.assigneeId);
        Object.assign(patch, t.patch);
        if (t.patch.assigneeId && !ticket.firstAssignedAt) patch.firstAssignedAt = now;
        events.push(...t.events.map((e) => ({ ...e, data: { ...e.data, reason: 'escalation' } })));
      }
      if (plan.priority && plan.priority !== ticket.priority) {
        patch.priority = plan.priority;
        events.push({ type: 'priority_changed', data: { from: ticket.priority, to: plan.priority, reason: 'escalation' } });
      }
      const [updated] = await tx
        .update(tickets)
        .set({ ...patch, updatedAt: now, version: sql`${tickets.version} + 1` })
        .where(eq(tickets.id, ticket.id))
        .returning();
      await tx
        .update(breaches)
        .set({ escalationLevel: level, severity: severityOf(updated!.priority), teamId: updated!.teamId })
        .where(eq(breaches.id, breachId));
      await appendEvents(tx, ticket.id, SYSTEM, events, now);
      const change = { ticket: updated!, events, now };
      await deps.hooks.inTransaction(tx, change);
      changes.push(change);
      payload = { breachId, ticketId: ticket.id, ticketNumber: ticket.number, channel: ticket.channel, metric: breach.metric, level, priority: updated!.priority, assigneeId: updated!.assigneeId, teamId: updated!.teamId };
      await publishStreamEvent(tx, 'escalation', payload, now);
      for (const n of plan.notifications) {
        if (n.channel === 'agent') notify.push({ kind: 'agent', agentId: n.agentId, role: n.role });
        else if (n.channel === 'webhook') external.push({ kind: 'webhook', url: n.url });
        else external.push({ kind: 'email', address: n.address });
      }
      return 'escalated' as const;
    });
    if (result === 'escalated') {
      await deps.hooks.afterCommit(changes, (error) => logger.error({ err: error }, 'hook after escalation failed'));
      await enqueueNotifications(db, queues, notify, external, payload).catch((error) => logger.error({ err: error }, 'could not enqueue escalation notifications'));
    }
    return result;
  }

  /**
   * The net under everything: clocks past due with no breach (Redis flushed, a worker killed
   * mid-job, a failed schedule) are fired here, in batches, oldest first.
   */
  async function reconcile(batchSize = 500): Promise<{ breaches: number; warnings: number; escalations: number }> {
    const now = clock.now();
    const overdue = await db
      .select({ id: slaClocks.id, generation: slaClocks.generation })
      .from(slaClocks)
      .where(and(eq(slaClocks.state, 'running'), lte(slaClocks.dueAt, now), isNull(slaClocks.breachedAt)))
      .orderBy(asc(slaClocks.dueAt))
      .limit(batchSize);
    let breached = 0;
    for (const c of overdue) if ((await fire('breach', c.id, c.generation)) === 'fired') breached++;
    const warnDue = await db
      .select({ id: slaClocks.id, generation: slaClocks.generation })
      .from(slaClocks)
      .where(and(eq(slaClocks.state, 'running'), isNull(slaClocks.warnedAt), lte(slaClocks.warnDueAt, now)))
      .orderBy(asc(slaClocks.warnDueAt))
      .limit(batchSize);
    let warned = 0;
    for (const c of warnDue) if ((await fire('warning', c.id, c.generation)) === 'fired') warned++;
    const escalations = await reconcileEscalations(now, batchSize);
    return { breaches: breached, warnings: warned, escalations };
  }

  async function reconcileEscalations(now: Date, batchSize: number): Promise<number> {
    const open = await db
      .select({ id: breaches.id, policyId: breaches.policyId, breachedAt: breaches.breachedAt, level: breaches.escalationLevel })
      .from(breaches)
      .where(and(ne(breaches.state, 'resolved'), sql`${breaches.policyId} is not null`))
      .orderBy(asc(breaches.breachedAt))
      .limit(batchSize);
    const { byId } = await deps.policies.get();
    let count = 0;
    for (const b of open) {
      const policy = byId.get(b.policyId!);
      const next = policy ? escalationSchedule(policy, b.breachedAt).find((s) => s.level === b.level + 1) : undefined;
      if (next && next.dueAt <= now && (await escalate(b.id, next.level)) === 'escalated') count++;
    }
    return count;
  }

  return { fire, escalate, reconcile };
}

async function enqueueNotifications(
  db: Executor,
  queues: Queues,
  agentTargets: { agentId: string; role: string }[],
  external: ({ kind: 'webhook'; url: string } | { kind: 'email'; address: string })[],
  payload: Record<string, unknown>,
): Promise<void> {
  const subject = `SLA escalation level ${String(payload.level)}: ticket #${String(payload.ticketNumber)} (${String(payload.metric)})`;
  const text = `Ticket #${String(payload.ticketNumber)} on ${String(payload.channel)} breached its ${String(payload.metric)} target and reached escalation level ${String(payload.level)}.`;
  for (const target of agentTargets) {
    const [agent] = await db.select({ email: agents.email }).from(agents).where(eq(agents.id, target.agentId));
    if (agent) await queues.notifications.add('email', { to: agent.email, subject, text }, { attempts: 5, backoff: { type: 'exponential', delay: 2_000 } });
  }
  for (const target of external) {
    if (target.kind === 'webhook') {
      await queues.notifications.add('webhook', { url: target.url, event: 'sla.escalation', payload }, { attempts: 8, backoff: { type: 'exponential', delay: 2_000 } });
    } else {
      await queues.notifications.add('email', { to: target.address, subject, text }, { attempts: 5, backoff: { type: 'exponential', delay: 2_000 } });
    }
  }
}

export type SlaProcessor = ReturnType<typeof createSlaProcessor>;
