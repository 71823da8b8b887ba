import { randomUUID } from 'node:crypto';
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database } from '../../../db/client.js';
import { escalationSchedule } from '../../../domain/sla/escalation.js';
import { isDue, markBreached, markWarned } from '../../../domain/sla/sla-clocks.js';
import type { SlaClock } from '../../../domain/sla/sla.types.js';
import type { Queues } from '../../../queues/queues.js';
import type { Clock } from '../../../shared/clock.js';
import type { Metrics } from '../../../shared/metrics.js';
import { tickets } from '../../tickets/tickets.table.js';
import { appendEventsFrom } from '../../tickets/tickets.repository.js';
import { recordBreachesFrom, severityOf } from '../breaches/breaches.repository.js';
import { publishStreamEventsFrom, STREAM_CHANNEL } from '../breaches/stream-events.repository.js';
import { recordEvents, type RecordedEvent } from '../../events/events.writer.js';
import { toDomainClock } from './clocks.repository.js';
import type { PolicyCache } from '../policies/policy.cache.js';
import { slaClocks } from '../sla.table.js';

export type TimerKind = 'warning' | 'breach';
export type FireResult = 'fired' | 'stale' | 'early';

export interface FireRequest {
  kind: TimerKind;
  clockId: string;
  generation: number;
}

export interface FiringDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  queues: Queues;
  policies: PolicyCache;
  metrics: Metrics;
}

export const escalationJobId = (breachId: string, level: number) => `esc-${breachId}-${level}`;

/** What one fired request writes: a clock change, a timeline event, a stream event, maybe a breach. */
interface Firing {
  kind: TimerKind;
  breachId: string | null;
  ticketId: string;
  clockId: string;
  clockStartedAt: Date;
  policyId: string | null;
  metric: string;
  channel: string;
  teamId: string | null;
  assigneeId: string | null;
  severity: number;
  dueAt: Date | null;
  eventData: Record<string, unknown>;
  streamData: Record<string, unknown>;
  latenessSec: number;
}

/**
 * Fires a set of SLA timers in one transaction, whatever their number: lock the running clocks
 * that no other transaction holds (in id order, as every other locker does), re-check each
 * request against the engine, then write every clock, breach, timeline event and stream event
 * in two statements. A burst of 1,000 due clocks costs a handful of round trips instead of
 * ~9 per clock; a single job costs the same as before.
 *
 * The re-check is what makes duplicates harmless: a job for an old generation, a second
 * worker's copy, the reconciler racing a job — all find the clock already moved, or held by
 * the one firing it, and answer 'stale'. Breaches are also unique per clock run in the schema.
 */
export async function fireTimers(deps: FiringDeps, requests: FireRequest[]): Promise<FireResult[]> {
  if (requests.length === 0) return [];
  const now = deps.clock.now();
  const results: FireResult[] = requests.map(() => 'stale');
  const firings: Firing[] = [];
  /** For each firing, the request it answers; a breach that lost the unique race is not recorded. */
  const requestOf: number[] = [];
  const recorded: boolean[] = [];
  const escalations: { breachId: string; level: number; delay: number }[] = [];

  await deps.db.transaction(async (tx) => {
    const ids = [...new Set(requests.map((r) => r.clockId))].sort();
    const rows = await tx
      .select({ clock: slaClocks, ticket: { number: tickets.number, channel: tickets.channel, teamId: tickets.teamId, priority: tickets.priority, assigneeId: tickets.assigneeId } })
      .from(slaClocks)
      .innerJoin(tickets, eq(tickets.id, slaClocks.ticketId))
      // Only a running clock can fire: a stale request (its clock fired by a sweep or another
      // worker's copy, or stopped) takes no row lock, which would write the row and its WAL for
      // nothing. And a clock another transaction holds is left to it ('stale' here): a sweep or
      // a job batch holding it fires it, a reply holding it stops it (recording the breach if
      // the reply came late), and if the holder rolls back the clock is still overdue, which the
      // overdue watch fires within a few tens of ms (the reconciler, if the watch is off).
      // Waiting instead made the jobs queue behind the sweeps that join them when they run late
      // (the sweeps take the oldest overdue clocks, the very ones the jobs are on): 2.1 sessions
      // on Lock:transactionid on average at 1,000,000 clocks, and a lag that kept growing.
      .where(and(inArray(slaClocks.id, ids), eq(slaClocks.state, 'running')))
      .orderBy(asc(slaClocks.id))
      .for('update', { of: slaClocks, skipLocked: true });
    const byId = new Map(rows.map((r) => [r.clock.id, { row: r, current: toDomainClock(r.clock), changed: false }]));

    // Warnings before breaches: a clock whose warning and breach come due in one batch gets both, in that order.
    const order = requests.map((_, i) => i).sort((a, b) => Number(requests[a]!.kind === 'breach') - Number(requests[b]!.kind === 'breach'));
    for (const i of order) {
      const { kind, clockId, generation } = requests[i]!;
      const entry = byId.get(clockId);
      if (!entry) continue;
      const { current } = entry;
      if (!isDue(current, kind, now, generation)) {
        const dueAt = kind === 'warning' ? current.warnDueAt : current.dueAt;
        const early = current.state === 'running' && current.generation === generation && dueAt !== null && dueAt > now;
        results[i] = early ? 'early' : 'stale';
        continue;
      }
      results[i] = 'fired';
      entry.current = kind === 'warning' ? markWarned(current, now) : markBreached(current, now);
      entry.changed = true;
      firings.push(firingOf(kind, entry.row, current, now));
      requestOf.push(i);
      recorded.push(true);
    }
    if (firings.length === 0) return;

    const changed = [...byId.values()].filter((e) => e.changed).map((e) => ({ id: e.row.clock.id, ...stateOf(e.current) }));
    await tx.execute(sql`
      update sla_clocks as c
         set state = v.state, warned_at = v.warned_at, breached_at = v.breached_at, updated_at = ${now}
        from jsonb_to_recordset(${JSON.stringify(changed)}::jsonb) as v(id uuid, state text, warned_at timestamptz, breached_at timestamptz)
       where c.id = v.id`);

    const inserted = await tx.execute<{ breach_ids: string[] }>(sql`
      with v as (
        select * from jsonb_to_recordset(${JSON.stringify(firings)}::jsonb) as v(
          "kind" text, "breachId" uuid, "ticketId" uuid, "clockId" uuid, "clockStartedAt" timestamptz, "policyId" uuid,
          "metric" text, "channel" text, "teamId" uuid, "severity" int, "dueAt" timestamptz, "eventData" jsonb, "streamData" jsonb)
      ), b as (
        ${recordBreachesFrom(sql`select "breachId", "ticketId", "clockId", "clockStartedAt", "policyId", "metric", "channel", "teamId", "severity", coalesce("dueAt", ${now}), ${now} from v where "kind" = 'breach'`)}
      ), f as (
        select * from v where "kind" = 'warning' or "breachId" in (select id from b)
      ), e as (
        ${appendEventsFrom(sql`select "ticketId", case "kind" when 'breach' then 'sla_breached' else 'sla_warning' end, 'system', 'sla', "eventData", ${now} from f`)}
      ), s as (
        ${publishStreamEventsFrom(sql`select "kind", "streamData", ${now} from f`)}
      ), n as (
        -- One notification per batch: the hub reads every new row on each.
        select pg_notify(${STREAM_CHANNEL}, max(id)::text) from s having count(*) > 0
      )
      select coalesce((select array_agg(id) from b), '{}') as breach_ids, (select count(*) from n) as notified`);
    const breachIds = new Set(inserted.rows[0]?.breach_ids ?? []);

    // A breach that lost the unique race (another worker recorded this clock run) fired nothing here.
    firings.forEach((f, k) => {
      if (f.kind !== 'breach' || breachIds.has(f.breachId!)) return;
      results[requestOf[k]!] = 'stale';
      recorded[k] = false;
    });
    // Events (issue 15): sla.warning and sla.breached in the outbox, with the clocks' change.
    await recordEvents(tx, firings.flatMap((f, k) => (recorded[k] ? [slaEventOf(f, now)] : [])));

    const { byId: policies } = await deps.policies.get(tx);
    for (const [k, f] of firings.entries()) {
      if (f.kind !== 'breach' || !recorded[k] || !f.policyId) continue;
      const policy = policies.get(f.policyId);
      for (const step of policy ? escalationSchedule(policy, now) : []) {
        escalations.push({ breachId: f.breachId!, level: step.level, delay: Math.max(0, step.dueAt.getTime() - now.getTime()) });
      }
    }
  });

  // Counted once committed; the histogram's `kind` label shows whether each kind fires on time.
  for (const [k, f] of firings.entries()) {
    if (!recorded[k]) continue;
    (f.kind === 'breach' ? deps.metrics.slaBreaches : deps.metrics.slaWarnings).inc({ channel: f.channel, metric: f.metric });
    deps.metrics.timerLateness.observe({ kind: f.kind }, f.latenessSec);
  }
  if (escalations.length > 0) {
    await deps.queues.slaEscalations
      .addBulk(escalations.map((s) => ({ name: 'escalate' as const, data: { breachId: s.breachId, level: s.level }, opts: { jobId: escalationJobId(s.breachId, s.level), delay: s.delay } })))
      .catch((error: unknown) => deps.logger.warn({ err: error }, 'could not schedule escalations; the reconciler will run them'));
  }
  return results;
}

function slaEventOf(f: Firing, now: Date): RecordedEvent {
  const ref = { ticketId: f.ticketId, ticketNumber: Number(f.streamData.ticketNumber), metric: f.metric, dueAt: f.dueAt?.toISOString() ?? null };
  const resource = { type: 'ticket' as const, id: f.ticketId };
  const audience = { teamId: f.teamId, assigneeId: f.assigneeId };
  return f.kind === 'breach'
    ? { type: 'sla.breached', resource, data: { ...ref, breachId: f.breachId! }, occurredAt: now, audience }
    : { type: 'sla.warning', resource, data: ref, occurredAt: now, audience };
}

type LockedRow = { clock: typeof slaClocks.$inferSelect; ticket: { number: number; channel: string; teamId: string | null; priority: string; assigneeId: string | null } };

/** The columns markWarned and markBreached change; the batch UPDATE writes exactly these. */
function stateOf(clock: SlaClock) {
  return { state: clock.state, warned_at: clock.warnedAt, breached_at: clock.breachedAt };
}

function firingOf(kind: TimerKind, row: LockedRow, clock: SlaClock, now: Date): Firing {
  const { ticket } = row;
  const base = { ticketId: row.clock.ticketId, ticketNumber: ticket.number, channel: ticket.channel, metric: clock.metric, dueAt: clock.dueAt };
  const breachId = kind === 'breach' ? randomUUID() : null;
  const dueAt = kind === 'warning' ? clock.warnDueAt : clock.dueAt;
  return {
    kind,
    breachId,
    ticketId: row.clock.ticketId,
    clockId: row.clock.id,
    clockStartedAt: clock.startedAt,
    policyId: row.clock.policyId,
    metric: clock.metric,
    channel: ticket.channel,
    teamId: ticket.teamId,
    assigneeId: ticket.assigneeId,
    severity: severityOf(ticket.priority),
    dueAt: clock.dueAt,
    eventData: kind === 'warning' ? { metric: clock.metric, dueAt: clock.dueAt } : { metric: clock.metric, dueAt: clock.dueAt, breachId },
    streamData: kind === 'warning' ? { ...base, warnedAt: now } : { ...base, breachId, breachedAt: now },
    latenessSec: (now.getTime() - (dueAt ?? now).getTime()) / 1000,
  };
}
