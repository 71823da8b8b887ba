import { poolOf, type Database } from '../../../db/client.js';
import { isoSql as iso } from '../../../db/json-sql.js';
import { clockView, type SlaClockView } from '../../../domain/sla/sla-clocks.js';
import type { ClockStateName, SlaMetric } from '../../../domain/sla/sla.types.js';
import type { Clock } from '../../../shared/clock.js';
import type { ClocksOf, PageClocks, PageClocksSql } from '../../tickets/ticket-clocks.js';
import type { PolicyCache } from '../policies/policy.cache.js';

/**
 * The clocks of a page of tickets: one named prepared statement (parsed and planned once per
 * connection) with the ids as one array parameter, and only the columns a view needs, in array
 * rows. Every list page runs it, so it skips drizzle's query building and row mapping and the
 * binding of one parameter per ticket.
 */
const PAGE_CLOCKS = {
  // Ordered by metric, as a list page's clocks are (createPageClocks): a ticket's clocks read
  // the same in the list and on its own.
  name: 'sla_views_page_clocks_v2',
  text: `select ticket_id, policy_id, metric, state, target_sec, started_at, resumed_at, used_sec, due_at, warn_due_at,
                paused_at, warned_at, breached_at, stopped_at, generation
           from sla_clocks where ticket_id = any($1::uuid[]) order by metric`,
  rowMode: 'array' as const,
};

type PageClockRow = [string, string | null, string, string, number, Date, Date | null, number, Date | null, Date | null, Date | null, Date | null, Date | null, Date | null, number];

/** The `sla` array of ticket JSON, for many tickets in one query: the tickets module's ClocksOf. */
export function createSlaViews(deps: { db: Database; clock: Clock; policies: PolicyCache }): ClocksOf {
  return async function slaOf(ticketIds: string[]): Promise<Map<string, SlaClockView[]>> {
    const result = new Map<string, SlaClockView[]>(ticketIds.map((id) => [id, []]));
    if (ticketIds.length === 0) return result;
    const [{ rows }, { byId }] = await Promise.all([poolOf(deps.db).query<PageClockRow>({ ...PAGE_CLOCKS, values: [ticketIds] }), deps.policies.get()]);
    const now = deps.clock.now();
    for (const [ticketId, policyId, metric, state, targetSec, startedAt, resumedAt, usedSec, dueAt, warnDueAt, pausedAt, warnedAt, breachedAt, stoppedAt, generation] of rows) {
      const calendar = policyId ? (byId.get(policyId)?.calendar ?? null) : null;
      const clock = { metric: metric as SlaMetric, state: state as ClockStateName, targetSec, startedAt, resumedAt, usedSec, dueAt, warnDueAt, pausedAt, warnedAt, breachedAt, stoppedAt, generation };
      result.get(ticketId)?.push(clockView(clock, now, calendar));
    }
    return result;
  };
}

/** An instant as whole epoch milliseconds in float8 (exact below 2^53), the Date.getTime() of the JS view. */
const epochMs = (column: string) => `floor(extract(epoch from ${column}) * 1000)::float8`;

/**
 * A clock's remainingSec when it needs no calendar (sla-clocks.ts remainingSec on 24/7 time),
 * in the same float8 operations as the JS: floor(targetSec - (usedSec + (now - resumedAt) / 1000)),
 * the elapsed part 0 when now <= resumedAt, and usedSec alone once stopped; null once met.
 */
const remainingSql = (now: string) => `case
    when c.state = 'met' then null
    when c.stopped_at is not null then floor(c.target_sec - c.used_sec)::bigint
    else floor(c.target_sec - (c.used_sec + case when c.resumed_at is null or ${now} <= ${epochMs('c.resumed_at')} then 0 else (${now} - ${epochMs('c.resumed_at')}) / 1000 end))::bigint
  end`;

/** What clockView shows, key for key in its order (the JSON JSON.stringify writes of a SlaClockView). */
const clockViewJson = (now: string) => `(select row_to_json(v) from (select c.metric, c.state, ${iso('c.started_at')} as "startedAt", ${iso('c.due_at')} as "dueAt",
    ${iso('c.warned_at')} as "warnedAt", ${iso('c.breached_at')} as "breachedAt", ${remainingSql(now)} as "remainingSec") v)::text`;

/** A clock for JS to finish (pendingClockJson): every SlaClock field, instants as ISO text. */
const PENDING_CLOCK = `json_build_array(c.policy_id, c.metric, c.state, c.target_sec, ${iso('c.started_at')}, ${iso('c.resumed_at')}, c.used_sec, ${iso('c.due_at')},
    ${iso('c.warn_due_at')}, ${iso('c.paused_at')}, ${iso('c.warned_at')}, ${iso('c.breached_at')}, ${iso('c.stopped_at')}, c.generation)`;
type PendingClock = [string | null, string, string, number, string, string | null, number, string | null, string | null, string | null, string | null, string | null, string | null, number];

const dateOrNull = (text: string | null) => (text === null ? null : new Date(text));

/**
 * The page clocks of a list page's own statement (the tickets module composes it, see
 * ticket-clocks.ts PageClocks): a lateral subquery that writes each ticket's `sla` array as
 * JSON, so a page is one round trip and nothing is spliced in JS.
 *
 * Exact, not approximate: remainingSec of a running clock on a business calendar stays in JS
 * (domain/calendar.ts walks the calendar's zone one UTC offset span at a time, from luxon's
 * tzdata; Postgres has its own tzdata, which can be another release, and no way to list a
 * zone's offset transitions, so it cannot reproduce that arithmetic to the second). Such a
 * clock, when its policy has a calendar in the policy cache (where the JS view takes its
 * calendar from), makes the subquery leave the ticket's `sla` null and hand its clocks over
 * as `pending`; finish() writes them with clockView. Policies without a calendar (24/7), and
 * paused, stopped and met clocks on any calendar, need no calendar arithmetic at all.
 */
export function createPageClocks(deps: { clock: Clock; policies: PolicyCache }): PageClocks {
  return async function pageClocks(): Promise<PageClocksSql> {
    const { policies, byId } = await deps.policies.get();
    const now = deps.clock.now();
    const calendared = policies.filter((p) => p.calendar !== null).map((p) => p.id);
    return {
      lateral(ticketId, param) {
        const nowMs = param(now.getTime(), '::float8');
        const clocks = `from sla_clocks c where c.ticket_id = ${ticketId}`;
        const sla = `coalesce('[' || string_agg(${clockViewJson(nowMs)}, ',' order by c.metric) || ']', '[]')::json`;
        // No policy with a calendar (the usual 24/7 set-up): every clock is written here.
        if (calendared.length === 0) return `(select ${sla} as sla, null::json as pending ${clocks})`;
        const needsCalendar = `(c.state <> 'met' and c.stopped_at is null and c.resumed_at is not null and c.policy_id = any(${param(calendared, '::uuid[]')}))`;
        return `(select case when bool_or(${needsCalendar}) then null else ${sla} end as sla,
          case when bool_or(${needsCalendar}) then json_agg(${PENDING_CLOCK} order by c.metric) end as pending ${clocks})`;
      },
      finish(pending) {
        const views = (pending as PendingClock[]).map(([policyId, metric, state, targetSec, startedAt, resumedAt, usedSec, dueAt, warnDueAt, pausedAt, warnedAt, breachedAt, stoppedAt, generation]) => {
          const calendar = policyId ? (byId.get(policyId)?.calendar ?? null) : null;
          const clock = {
            metric: metric as SlaMetric,
            state: state as ClockStateName,
            targetSec,
            startedAt: new Date(startedAt),
            resumedAt: dateOrNull(resumedAt),
            usedSec,
            dueAt: dateOrNull(dueAt),
            warnDueAt: dateOrNull(warnDueAt),
            pausedAt: dateOrNull(pausedAt),
            warnedAt: dateOrNull(warnedAt),
            breachedAt: dateOrNull(breachedAt),
            stoppedAt: dateOrNull(stoppedAt),
            generation,
          };
          return clockView(clock, now, calendar);
        });
        return JSON.stringify(views);
      },
    };
  };
}
