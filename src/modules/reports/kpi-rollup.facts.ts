import type pg from 'pg';
import { SLA_METRICS } from '../../domain/sla/sla.types.js';
import { emptyCell, SKETCHES, type Cell } from './kpi-rollup.cells.js';
import { sketchOf } from './kpi-sketch.js';
import { DEFAULT_FIGURE_SETTINGS, type FigureSettings } from '../../domain/figures/settings.js';

/**
 * The KPI facts of [from, to), aggregated per UTC hour of each fact's own instant, per (channel,
 * team) of the fact and, for each dimension asked, per its value: the cells the rollups store
 * (kpi-rollup.refresh.ts) and the report reads live beyond them (kpi-rollup.report.ts).
 *
 * Facts and their attributes are the exact statement's (kpi.queries.ts, README "## KPIs"):
 * ticket facts by the ticket's current attributes, breaches by the channel and team recorded
 * at the breach, surveys by those recorded at solving. Two facts the exact statement derives
 * per report are kept as counts: 'done' (solved or closed, whichever came first, for the
 * backlog) and open commitments, split at `now` into overdue and pending (`now` null: every
 * open commitment of a closed hour is overdue once the hour has passed).
 */
export type Dim = '' | 'agent' | 'language' | 'priority' | 'reason' | 'rootCause';
export const DIMS: readonly Dim[] = ['', 'agent', 'language', 'priority', 'reason', 'rootCause'];

export interface HourCell {
  hour: Date;
  channel: string;
  teamId: string | null;
  dim: Dim;
  value: string | null;
  cell: Cell;
}

export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

const FACTS = `
  facts (at, channel, team, agent, language, priority, reason, root_cause, kind, cal, biz, num, flag, s1, s2) as (
    select t.created_at, t.channel, t.team_id::text, t.assignee_id::text, t.language, t.priority, t.reason_id::text, t.root_cause_id::text, 'created', null::float8, null::float8, null::float8, null::boolean, null::text, null::text
      from tickets t where t.created_at >= $1 and t.created_at < $2
    union all
    select least(t.solved_at, t.closed_at), t.channel, t.team_id::text, t.assignee_id::text, t.language, t.priority, t.reason_id::text, t.root_cause_id::text, 'done', null, null, null, null, null, null
      from tickets t
     where ((t.solved_at >= $1 and t.solved_at < $2) or (t.closed_at >= $1 and t.closed_at < $2))
       and least(t.solved_at, t.closed_at) >= $1 and least(t.solved_at, t.closed_at) < $2
    union all
    select t.first_response_at, t.channel, t.team_id::text, t.assignee_id::text, t.language, t.priority, t.reason_id::text, t.root_cause_id::text, 'first_response',
           extract(epoch from t.first_response_at - t.created_at)::float8, c.used_sec::float8, null,
           case when t.channel <> 'phone' then extract(epoch from t.first_response_at - t.created_at) <= ($5::jsonb ->> t.channel)::float8 end, null, null
      from tickets t
      left join lateral (select c.used_sec from sla_clocks c where c.ticket_id = t.id and c.metric = 'first_response' and c.stopped_at is not null and c.state in ('met', 'breached') offset 0) c on true
     where t.first_response_at >= $1 and t.first_response_at < $2
    union all
    select t.solved_at, t.channel, t.team_id::text, t.assignee_id::text, t.language, t.priority, t.reason_id::text, t.root_cause_id::text, 'solved',
           extract(epoch from t.solved_at - t.created_at)::float8, c.used_sec::float8, t.handoff_count::float8, t.reopen_count > 0, t.fcr_state, null
      from tickets t
      left join lateral (select c.used_sec from sla_clocks c where c.ticket_id = t.id and c.metric = 'resolution' and c.stopped_at is not null and c.state in ('met', 'breached') offset 0) c on true
     where t.solved_at >= $1 and t.solved_at < $2
    union all
    select c.stopped_at, t.channel, t.team_id::text, t.assignee_id::text, t.language, t.priority, t.reason_id::text, t.root_cause_id::text, 'clock', null, null, null, null, c.metric, c.state
      from sla_clocks c join lateral (select t.channel, t.team_id, t.assignee_id, t.language, t.priority, t.reason_id, t.root_cause_id from tickets t where t.id = c.ticket_id offset 0) t on true
     where c.stopped_at >= $1 and c.stopped_at < $2 and c.state in ('met', 'breached')
    union all
    select b.breached_at, b.channel, b.team_id::text, t.assignee_id::text, t.language, t.priority, t.reason_id::text, t.root_cause_id::text, 'breach', null, null, null, null, b.metric, null
      from breaches b join lateral (select t.channel, t.team_id, t.assignee_id, t.language, t.priority, t.reason_id, t.root_cause_id from tickets t where t.id = b.ticket_id offset 0) t on true
     where b.breached_at >= $1 and b.breached_at < $2
    union all
    select s.offered_at, s.channel, s.team_id::text, s.agent_id::text, s.language, t.priority, t.reason_id::text, t.root_cause_id::text, case s.kind when 'csat' then 'survey' else s.kind end, null, null, s.score::float8,
           s.responded_at is not null and s.score is not null, null, null
      from csat_surveys s join lateral (select t.channel, t.team_id, t.assignee_id, t.language, t.priority, t.reason_id, t.root_cause_id from tickets t where t.id = s.ticket_id offset 0) t on true
     where s.offered_at >= $1 and s.offered_at < $2
    union all
    select m.due_at, t.channel, t.team_id::text, t.assignee_id::text, t.language, t.priority, t.reason_id::text, t.root_cause_id::text, 'commitment', null, null, null, null,
           case when m.state in ('kept', 'broken') then m.state when $3::timestamptz is null or m.due_at < $3::timestamptz then 'overdue' else 'pending' end, null
      from commitments m join lateral (select t.channel, t.team_id, t.assignee_id, t.language, t.priority, t.reason_id, t.root_cause_id from tickets t where t.id = m.ticket_id offset 0) t on true
     where m.due_at >= $1 and m.due_at < $2
    union all
    select t.solved_at, t.channel, t.team_id::text, t.assignee_id::text, t.language, t.priority, t.reason_id::text, t.root_cause_id::text, 'handle',
           (t.handling_sec + t.after_work_sec)::float8, t.after_work_sec::float8, t.handling_sec::float8, null, null, null
      from tickets t where t.solved_at >= $1 and t.solved_at < $2 and t.handling_sec + t.after_work_sec > 0
    union all
    select t.solved_at, t.channel, t.team_id::text, t.assignee_id::text, t.language, t.priority, t.reason_id::text, t.root_cause_id::text, 'redress',
           null, null, t.redress_amount::float8, null, t.redress_currency, null
      from tickets t where t.solved_at >= $1 and t.solved_at < $2 and t.redress_kind is not null
    union all
    select q.offered_at, q.channel, t.team_id::text, t.assignee_id::text, t.language, t.priority, t.reason_id::text, t.root_cause_id::text, 'queue',
           q.wait_sec::float8, null, null, q.outcome = 'answered',
           case when q.outcome = 'answered' and q.wait_sec <= ($5::jsonb ->> q.channel)::float8 then 'within'
                when q.outcome = 'abandoned' and q.wait_sec <= ($6::jsonb ->> q.channel)::float8 then 'short' end, null
      from phone_queue_calls q join lateral (select t.team_id, t.assignee_id, t.language, t.priority, t.reason_id, t.root_cause_id from tickets t where t.id = q.ticket_id offset 0) t on true
     where q.offered_at >= $1 and q.offered_at < $2
  ),
  hourly as (select date_trunc($4::text, at, 'UTC') as hour, * from facts)`;
// The joins are LATERAL ... OFFSET 0 so that Postgres cannot flatten them into hash joins over
// whole tables: a range of an hour or a day touches a few thousand rows, each found by its key.

const SLA_COUNTS = SLA_METRICS.flatMap((m) => [
  `count(*) filter (where kind = 'clock' and s1 = '${m}' and s2 = 'met') as "sla_${m}_met"`,
  `count(*) filter (where kind = 'clock' and s1 = '${m}' and s2 = 'breached') as "sla_${m}_breached"`,
]).join(',\n');

const AGGREGATES = `
  count(*) filter (where kind = 'created') as "created",
  count(*) filter (where kind = 'done') as "done",
  count(*) filter (where kind = 'solved') as "solved",
  count(*) filter (where kind = 'solved' and flag) as "reopened",
  coalesce(sum(num) filter (where kind = 'solved'), 0) as "handoffs",
  count(*) filter (where kind = 'solved' and s1 = 'yes') as "fcrYes",
  count(*) filter (where kind = 'solved' and s1 = 'no') as "fcrNo",
  count(*) filter (where kind = 'breach') as "breaches",
  count(*) filter (where kind = 'survey') as "csatOffered",
  count(*) filter (where kind = 'survey' and flag) as "csatResponded",
  coalesce(sum(num) filter (where kind = 'survey' and flag), 0) as "csatScoreSum",
  count(*) filter (where kind = 'commitment' and s1 = 'kept') as "commitmentsKept",
  count(*) filter (where kind = 'commitment' and s1 = 'broken') as "commitmentsBroken",
  count(*) filter (where kind = 'commitment' and s1 = 'overdue') as "commitmentsOverdue",
  count(*) filter (where kind = 'commitment' and s1 = 'pending') as "commitmentsPending",
  ${SLA_COUNTS},
  array_agg(cal) filter (where kind = 'first_response') as "v_frtCal",
  array_agg(biz) filter (where kind = 'first_response' and biz is not null) as "v_frtBiz",
  array_agg(cal) filter (where kind = 'solved') as "v_resCal",
  array_agg(biz) filter (where kind = 'solved' and biz is not null) as "v_resBiz",
  array_agg(cal) filter (where kind = 'handle') as "v_handle",
  coalesce(sum(num) filter (where kind = 'handle'), 0) as "handlingSum",
  coalesce(sum(biz) filter (where kind = 'handle'), 0) as "afterWorkSum",
  count(*) filter (where kind = 'first_response' and flag) as "frtWithin",
  count(*) filter (where kind = 'first_response' and flag is not null) as "frtJudged",
  count(*) filter (where kind = 'queue') as "qOffered",
  count(*) filter (where kind = 'queue' and flag) as "qAnswered",
  count(*) filter (where kind = 'queue' and s1 = 'within') as "qWithin",
  count(*) filter (where kind = 'queue' and not flag) as "qAbandoned",
  count(*) filter (where kind = 'queue' and s1 = 'short') as "qShort",
  coalesce(sum(cal) filter (where kind = 'queue' and flag), 0) as "qWaitSum",
  count(*) filter (where kind = 'ces') as "cesOffered",
  count(*) filter (where kind = 'ces' and flag) as "cesResponded",
  coalesce(sum(num) filter (where kind = 'ces' and flag), 0) as "cesScoreSum",
  count(*) filter (where kind = 'nps') as "npsOffered",
  count(*) filter (where kind = 'nps' and flag) as "npsResponded",
  count(*) filter (where kind = 'nps' and flag and num >= 9) as "npsPromoters",
  count(*) filter (where kind = 'nps' and flag and num >= 7 and num < 9) as "npsPassives",
  count(*) filter (where kind = 'nps' and flag and num < 7) as "npsDetractors",
  count(*) filter (where kind = 'redress') as "redressCount",
  array_agg(s1) filter (where kind = 'redress') as "v_redressCurrency",
  array_agg(num) filter (where kind = 'redress') as "v_redressAmount"`;

const DIM_COLUMN: Record<Exclude<Dim, ''>, string> = { agent: 'agent', language: 'language', priority: 'priority', reason: 'reason', rootCause: 'root_cause' };

export function statement(dims: readonly Dim[]): string {
  const sets = dims.map((d) => (d === '' ? '(hour, channel, team)' : `(hour, channel, team, ${DIM_COLUMN[d]})`));
  const dimCase = dims.filter((d) => d !== '').map((d) => `when grouping(${DIM_COLUMN[d as Exclude<Dim, ''>]}) = 0`);
  const dimExpr = dimCase.length ? `case ${dims.filter((d) => d !== '').map((d, i) => `${dimCase[i]} then '${d}'`).join(' ')} else '' end` : `''`;
  const valueExpr = dimCase.length ? `case ${dims.filter((d) => d !== '').map((d, i) => `${dimCase[i]} then ${DIM_COLUMN[d as Exclude<Dim, ''>]}`).join(' ')} end` : 'null::text';
  return `with ${FACTS}
    select hour, channel, team, ${dimExpr} as dim, ${valueExpr} as value, ${AGGREGATES}
    from hourly group by grouping sets (${sets.join(', ')})`;
}

const COUNT_COLUMNS = ['created', 'done', 'solved', 'reopened', 'handoffs', 'fcrYes', 'fcrNo', 'breaches', 'csatOffered', 'csatResponded', 'csatScoreSum'].concat(
  ['commitmentsKept', 'commitmentsBroken', 'commitmentsOverdue', 'commitmentsPending'],
  ['handlingSum', 'afterWorkSum', 'frtWithin', 'frtJudged', 'qOffered', 'qAnswered', 'qWithin', 'qAbandoned', 'qShort', 'qWaitSum'],
  ['cesOffered', 'cesResponded', 'cesScoreSum', 'npsOffered', 'npsResponded', 'npsPromoters', 'npsPassives', 'npsDetractors', 'redressCount'],
  SLA_METRICS.flatMap((m) => [`sla_${m}_met`, `sla_${m}_breached`]),
);

/**
 * Aggregates the facts of [from, to) into cells per UTC hour (or per minute: the open hour's
 * stored slices, kpi-rollup.refresh.ts), for each of `dims`.
 */
export async function aggregateFacts(
  db: Queryable,
  range: { from: Date; to: Date; now: Date | null },
  dims: readonly Dim[] = DIMS,
  unit: 'hour' | 'minute' = 'hour',
  settings: FigureSettings = DEFAULT_FIGURE_SETTINGS,
): Promise<HourCell[]> {
  if (range.from >= range.to) return [];
  const result = await db.query(statement(dims), [range.from, range.to, range.now, unit, JSON.stringify(settings.serviceLevelSec), JSON.stringify(settings.shortAbandonSec)]);
  return result.rows.map((r: Record<string, unknown>) => {
    const cell = emptyCell();
    for (const column of COUNT_COLUMNS) cell.counts[column] = Number(r[column] ?? 0);
    SKETCHES.forEach((name, i) => {
      const values = (r[`v_${name}`] as number[] | null) ?? [];
      cell.counts[`${name}N`] = values.length;
      let sum = 0;
      for (const v of values) sum += v;
      cell.counts[`${name}Sum`] = sum;
      cell.sketches[i] = sketchOf(values);
    });
    // Redress per currency (issue 16): counters named by the currency.
    const currencies = (r.v_redressCurrency as string[] | null) ?? [];
    const amounts = (r.v_redressAmount as number[] | null) ?? [];
    currencies.forEach((currency, i) => {
      cell.counts[`redress:${currency}`] = (cell.counts[`redress:${currency}`] ?? 0) + Number(amounts[i] ?? 0);
    });
    return { hour: r.hour as Date, channel: r.channel as string, teamId: (r.team as string | null) ?? null, dim: r.dim as Dim, value: (r.value as string | null) ?? null, cell };
  });
}
