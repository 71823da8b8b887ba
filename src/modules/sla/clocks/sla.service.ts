import { and, asc, eq, gt, isNull, lte, ne, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database, Executor } from '../../../db/client.js';
import { escalationSchedule, planActions, type PlannedNotification } from '../../../domain/sla/escalation.js';
import { assign, lifecycleStateOf, type Priority } from '../../../domain/ticket-lifecycle.js';
import type { Queues } from '../../../queues/queues.js';
import type { Clock } from '../../../shared/clock.js';
import type { Metrics } from '../../../shared/metrics.js';
import { agents } from '../../agents/agents.table.js';
import { teams } from '../../teams/teams.table.js';
import type { TicketChange, TicketHooks } from '../../tickets/tickets.hooks.js';
import { appendEvents, lockTicket, type Actor, type NewEvent } from '../../tickets/tickets.repository.js';
import { patchTicket, type TicketPatch } from '../../tickets/tickets.writer.js';
import { createCoalescer } from '../../../shared/coalescer.js';
import { createNotificationOutbox, type Notification } from '../../notifications/notifications.outbox.js';
import { escalationJobId, fireTimers, type FireRequest, type FireResult, type TimerKind } from './sla.firing.js';
import { publishStreamEvent } from '../breaches/stream-events.repository.js';
import type { PolicyCache } from '../policies/policy.cache.js';
import { breaches, slaClocks } from '../sla.table.js';
import { escalateBreach, severityOf } from '../breaches/breaches.repository.js';

const SYSTEM: Actor = { kind: 'system', id: 'sla' };

export interface SlaServiceDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  queues: Queues;
  policies: PolicyCache;
  hooks: TicketHooks;
  metrics: Metrics;
}

export { escalationJobId, type FireResult };

/** Timer jobs due together are fired together: up to this many clocks per transaction. */
const FIRE_BATCH = 500;
/** Batches in flight at once per process; each holds one pool connection. */
const FIRE_IN_FLIGHT = 4;
/** A reconciler run fires at most this many batches per kind, so one run cannot hold the maintenance queue for long. */
const MAX_SWEEP_ROUNDS = 20;

/**
 * Acts on SLA deadlines. Every path (a timer job, the reconciler, a duplicate job on another
 * worker) goes through fireTimers(): lock the clocks, re-check them against the engine, act
 * once. Timer jobs running at the same moment share one transaction (see createCoalescer).
 */
export function createSlaService(deps: SlaServiceDeps) {
  const { db, clock, logger } = deps;
  const outbox = createNotificationOutbox(deps);
  const firing = createCoalescer<FireRequest, FireResult>((requests) => fireTimers(deps, requests), { maxBatch: FIRE_BATCH, maxInFlight: FIRE_IN_FLIGHT });

  function fire(kind: TimerKind, clockId: string, generation: number): Promise<FireResult> {
    return firing.request({ kind, clockId, generation });
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
    let notifications: string[] = [];
    const result = await db.transaction(async (tx) => {
      // The ticket first, then the breach: the order of every ticket change (which resolves
      // breaches), so an escalation and a reply never wait on each other in a cycle.
      const [target] = await tx.select({ ticketId: breaches.ticketId }).from(breaches).where(eq(breaches.id, breachId));
      if (!target) return 'stale' as const;
      const ticket = await lockTicket(tx, target.ticketId);
      if (!ticket) return 'stale' as const;
      const [breach] = await tx.select().from(breaches).where(eq(breaches.id, breachId)).for('update');
      // A merge moved the breach meanwhile: the reconciler runs the level on its new ticket.
      if (!breach || breach.ticketId !== ticket.id || breach.state === 'resolved' || breach.escalationLevel >= level) return 'stale' as const;
      const policy = breach.policyId ? (await deps.policies.get(tx)).byId.get(breach.policyId) : undefined;
      const step = policy ? escalationSchedule(policy, breach.breachedAt).find((s) => s.level === level) : undefined;
      if (!step) return 'stale' as const;
      const teamLeadId = ticket.teamId ? ((await tx.select({ lead: teams.leadAgentId }).from(teams).where(eq(teams.id, ticket.teamId)))[0]?.lead ?? null) : null;
      const plan = planActions(step.actions, { assigneeId: ticket.assigneeId, teamId: ticket.teamId, teamLeadId, priority: ticket.priority as Priority });
      const events: NewEvent[] = [{ type: 'escalated', data: { breachId, level, metric: breach.metric, skipped: plan.skipped.map((s) => s.reason) } }];
      const patch: TicketPatch = { escalationLevel: Math.max(ticket.escalationLevel, level) };
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
      const updated = await patchTicket(tx, ticket.id, patch, now);
      await escalateBreach(tx, breachId, level, { severity: severityOf(updated.priority), teamId: updated.teamId });
      await appendEvents(tx, ticket.id, SYSTEM, events, now);
      const change = { ticket: updated!, events, now };
      await deps.hooks.inTransaction(tx, change);
      changes.push(change);
      const payload = { breachId, ticketId: ticket.id, ticketNumber: ticket.number, channel: ticket.channel, metric: breach.metric, level, priority: updated.priority, assigneeId: updated.assigneeId, teamId: updated.teamId };
      await publishStreamEvent(tx, 'escalation', payload, now);
      notifications = await outbox.record(tx, await notificationsOf(tx, plan.notifications, payload));
      return 'escalated' as const;
    });
    if (result === 'escalated') {
      await deps.hooks.afterCommit(changes, (error) => logger.error({ err: error }, 'hook after escalation failed'));
      await outbox.enqueue(notifications);
    }
    return result;
  }

  /**
   * The net under everything: clocks past due with no breach (Redis flushed, a worker killed
   * mid-job, a failed schedule) are fired here, in batches, oldest first. With `sweep: false`
   * (a Redis-loss recovery of this process is sweeping already) the clocks are left to it: two
   * sweeps would lock the same rows, and one would wait for the other only to find them fired.
   */
  async function reconcile(options: { sweep?: boolean } = {}): Promise<{ breaches: number; warnings: number; escalations: number; notifications: number }> {
    const now = clock.now();
    const fired = options.sweep === false ? { breaches: 0, warnings: 0 } : await sweepDue(now);
    const escalations = await reconcileEscalations(now, FIRE_BATCH);
    // Escalation notifications whose job Redis could not take.
    return { ...fired, escalations, notifications: await outbox.enqueuePending() };
  }

  /** Fires every breach and warning due by `now` (and after `since`, when given), from Postgres (no timer job needed). */
  async function sweepDue(now = clock.now(), since?: Date): Promise<{ breaches: number; warnings: number }> {
    // Warnings first, as fireTimers orders a batch: a breach takes the clock out of 'running',
    // so a clock whose warning and breach were both overdue (a stall, a Redis loss) would never
    // get its warning if the breach were swept before it.
    const warnings = await sweep('warning', now, since);
    return { breaches: await sweep('breach', now, since), warnings };
  }

  /** Fires every timer of `kind` due by `now` (after `since`), oldest first, a batch per transaction (bounded per run). */
  async function sweep(kind: TimerKind, now: Date, since?: Date): Promise<number> {
    const due = kind === 'breach' ? slaClocks.dueAt : slaClocks.warnDueAt;
    const done = kind === 'breach' ? slaClocks.breachedAt : slaClocks.warnedAt;
    let fired = 0;
    for (let round = 0; round < MAX_SWEEP_ROUNDS; round++) {
      const rows = await db
        .select({ id: slaClocks.id, generation: slaClocks.generation })
        .from(slaClocks)
        .where(and(eq(slaClocks.state, 'running'), lte(due, now), since ? gt(due, since) : undefined, isNull(done)))
        .orderBy(asc(due))
        .limit(FIRE_BATCH);
      const results = await fireTimers(deps, rows.map((c) => ({ kind, clockId: c.id, generation: c.generation })));
      const firedNow = results.filter((r) => r === 'fired').length;
      fired += firedNow;
      // Nothing fired: the clocks found are held by others (jobs, another process' sweep) firing them.
      if (rows.length < FIRE_BATCH || firedNow === 0) break;
    }
    return fired;
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

  return { fire, escalate, reconcile, sweepDue };
}

/** An escalation level's notify actions as notification jobs; an agent is mailed at their address of now. */
async function notificationsOf(tx: Executor, planned: PlannedNotification[], payload: Record<string, unknown>): Promise<Notification[]> {
  const subject = `SLA escalation level ${String(payload.level)}: ticket #${String(payload.ticketNumber)} (${String(payload.metric)})`;
  const text = `Ticket #${String(payload.ticketNumber)} on ${String(payload.channel)} breached its ${String(payload.metric)} target and reached escalation level ${String(payload.level)}.`;
  const out: Notification[] = [];
  for (const n of planned) {
    if (n.channel === 'agent') {
      const [agent] = await tx.select({ email: agents.email }).from(agents).where(eq(agents.id, n.agentId));
      if (agent) out.push({ job: 'email', data: { to: agent.email, subject, text } });
    } else if (n.channel === 'webhook') out.push({ job: 'webhook', data: { url: n.url, event: 'sla.escalation', payload } });
    else out.push({ job: 'email', data: { to: n.address, subject, text } });
  }
  return out;
}

export type SlaService = ReturnType<typeof createSlaService>;
