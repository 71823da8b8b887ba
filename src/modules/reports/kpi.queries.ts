import { sql, type SQL } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { combinedServiceLevel, emptyQueueCounts, queueFigures, type QueueCounts } from '../../domain/figures/service-level.js';
import { DEFAULT_FIGURE_SETTINGS, type FigureSettings } from '../../domain/figures/settings.js';
import { npsScore } from '../../domain/figures/surveys.js';
import { SLA_METRICS, type SlaMetric } from '../../domain/sla/sla.types.js';
import { toReportCsv, type CsvCell } from './csv.js';

/**
 * The KPI report as ONE aggregate query. Every source (tickets, SLA clocks, breaches, CSAT
 * surveys, commitments) contributes rows to a `facts` CTE: (group key, kind, values); a single
 * GROUP BY GROUPING SETS ((grp), ()) then computes every figure per group and for the total
 * with FILTER clauses (percentile_cont for medians and p90). Nothing is counted in JS.
 *
 * Each fact falls in [from, to) by its own instant and is grouped by the attributes of the
 * row it comes from; see README "## KPIs" for the exact definitions.
 */

export const GROUP_BYS = ['channel', 'team', 'agent', 'language', 'priority', 'day', 'week', 'reason', 'rootCause'] as const;
export type GroupBy = (typeof GROUP_BYS)[number];

export interface KpiQuery {
  from: Date;
  to: Date;
  /** null: only the total row (the KPI evaluator). */
  groupBy: GroupBy | null;
  /** IANA zone for day/week buckets. */
  tz: string;
  channels?: readonly string[] | undefined;
  teamId?: string | undefined;
  /** "Now" for commitments: an open commitment is overdue once its due time has passed. */
  now: Date;
  /** Issue 16: service-level and short-abandon thresholds per channel (defaults when left out). */
  settings?: FigureSettings | undefined;
}

export interface Distribution {
  count: number;
  median: number | null;
  p90: number | null;
  avg: number | null;
}
export interface SlaFigure {
  met: number;
  breached: number;
  compliance: number | null;
}
export interface KpiFigures {
  createdCount: number;
  solvedCount: number;
  backlogAtEnd: number;
  firstResponse: { calendar: Distribution; business: Distribution };
  resolution: { calendar: Distribution; business: Distribution };
  sla: Record<SlaMetric, SlaFigure>;
  breaches: number;
  fcr: { yes: number; no: number; rate: number | null };
  csat: { average: number | null; offered: number; responded: number; responseRate: number | null };
  reopenRate: number | null;
  handoffsPerTicket: number | null;
  commitments: { kept: number; broken: number; overdue: number; keptRate: number | null };
  // Contact-center figures (issue 16); see README "## KPIs".
  handleTime: HandleTimeFigure;
  serviceLevel: { within: number; eligible: number; rate: number | null };
  averageSpeedOfAnswer: number | null;
  abandonmentRate: number | null;
  phoneQueue: { offered: number; answered: number; answeredWithin: number; abandoned: number; shortAbandoned: number };
  ces: { average: number | null; offered: number; responded: number; responseRate: number | null };
  nps: { score: number | null; offered: number; responded: number; promoters: number; passives: number; detractors: number };
  redress: { count: number; sums: { currency: string; amount: number }[] };
  /** Agents' occupancy (handling / (handling + available idle)) on the total row and agent, team and day rows; null elsewhere. */
  occupancy: number | null;
}
export interface HandleTimeFigure extends Distribution {
  handlingAvg: number | null;
  afterWorkAvg: number | null;
}
export interface KpiRow extends KpiFigures {
  group: { key: string | null; label: string };
}
export interface KpiReport {
  rows: KpiRow[];
  total: KpiRow;
}

type Source = 'ticket' | 'breach' | 'survey' | 'queue';

/** Where each source keeps the attribute a group or a filter reads (t = tickets). */
const COLUMNS: Record<Source, { channel: string; team: string; agent: string; language: string; priority: string; reason: string; rootCause: string }> = {
  // Tickets, clocks and commitments: the ticket's current attributes.
  ticket: { channel: 't.channel', team: 't.team_id', agent: 't.assignee_id', language: 't.language', priority: 't.priority', reason: 't.reason_id', rootCause: 't.root_cause_id' },
  // A breach keeps the channel and team it breached in.
  breach: { channel: 'b.channel', team: 'b.team_id', agent: 't.assignee_id', language: 't.language', priority: 't.priority', reason: 't.reason_id', rootCause: 't.root_cause_id' },
  // A survey keeps who solved the ticket, the team, channel and language at solving.
  survey: { channel: 's.channel', team: 's.team_id', agent: 's.agent_id', language: 's.language', priority: 't.priority', reason: 't.reason_id', rootCause: 't.root_cause_id' },
  // A queue call is a phone fact, whatever the channel of the ticket it joined (issue 16).
  queue: { channel: 'q.channel', team: 't.team_id', agent: 't.assignee_id', language: 't.language', priority: 't.priority', reason: 't.reason_id', rootCause: 't.root_cause_id' },
};

const TIME_UNITS = { day: '1 day', week: '1 week' } as const;
const isTime = (g: GroupBy | null): g is 'day' | 'week' => g === 'day' || g === 'week';

const METRIC_COLUMNS = SLA_METRICS.map((m) => ({ metric: m, met: `sla_${m}_met`, breached: `sla_${m}_breached` }));

export async function queryKpis(db: Executor, q: KpiQuery): Promise<KpiReport> {
  const from = sql`${q.from.toISOString()}::timestamptz`;
  const to = sql`${q.to.toISOString()}::timestamptz`;
  const tz = sql`${q.tz}::text`;
  const groupBy = q.groupBy;
  const settings = q.settings ?? DEFAULT_FIGURE_SETTINGS;
  const thresholds = sql`${JSON.stringify(settings.serviceLevelSec)}`;
  const shortAbandon = sql`${JSON.stringify(settings.shortAbandonSec)}`;

  /** The group key of a fact from `source` that happened at `at` (an SQL expression). */
  const dim = (source: Source, at: string): SQL => {
    if (groupBy === null) return sql`null::text`;
    if (isTime(groupBy)) return sql`to_char(date_trunc(${sql.raw(`'${groupBy}'`)}, ${sql.raw(at)} at time zone ${tz}), 'YYYY-MM-DD')`;
    return sql`${sql.raw(COLUMNS[source][groupBy])}::text`;
  };
  const filters = (source: Source): SQL => {
    const parts: SQL[] = [];
    if (q.channels?.length) parts.push(sql`and ${sql.raw(COLUMNS[source].channel)} in (${sql.join(q.channels.map((c) => sql`${c}`), sql`, `)})`);
    if (q.teamId) parts.push(sql`and ${sql.raw(COLUMNS[source].team)} = ${q.teamId}::uuid`);
    return sql.join(parts, sql` `);
  };
  const inRange = (column: string) => sql`${sql.raw(column)} >= ${from} and ${sql.raw(column)} < ${to}`;
  const notDoneAt = (at: SQL) => sql`t.created_at < ${at} and (t.solved_at is null or t.solved_at >= ${at}) and (t.closed_at is null or t.closed_at >= ${at})`;

  // Columns of a fact: grp, kind, cal (calendar seconds), biz (business seconds), num, flag, s1, s2.
  const branches: SQL[] = [
    sql`select ${dim('ticket', 't.created_at')}, 'created', null::float8, null::float8, null::float8, null::boolean, null::text, null::text
        from tickets t where ${inRange('t.created_at')} ${filters('ticket')}`,
    sql`select ${dim('ticket', 't.first_response_at')}, 'first_response', extract(epoch from t.first_response_at - t.created_at)::float8, c.used_sec, null,
          -- Issue 16: digital service level, a first response within the channel's threshold (phone has its queue).
          case when t.channel <> 'phone' then extract(epoch from t.first_response_at - t.created_at) <= (${thresholds}::jsonb ->> t.channel)::float8 end, null, null
        from tickets t
        left join sla_clocks c on c.ticket_id = t.id and c.metric = 'first_response' and c.stopped_at is not null and c.state in ('met', 'breached')
        where ${inRange('t.first_response_at')} ${filters('ticket')}`,
    sql`select ${dim('ticket', 't.solved_at')}, 'solved', extract(epoch from t.solved_at - t.created_at)::float8, c.used_sec, t.handoff_count::float8, t.reopen_count > 0, t.fcr_state, null
        from tickets t
        left join sla_clocks c on c.ticket_id = t.id and c.metric = 'resolution' and c.stopped_at is not null and c.state in ('met', 'breached')
        where ${inRange('t.solved_at')} ${filters('ticket')}`,
    sql`select ${dim('ticket', 'c.stopped_at')}, 'clock', null, null, null, null, c.metric, c.state
        from sla_clocks c join tickets t on t.id = c.ticket_id
        where ${inRange('c.stopped_at')} and c.state in ('met', 'breached') ${filters('ticket')}`,
    sql`select ${dim('breach', 'b.breached_at')}, 'breach', null, null, null, null, b.metric, null
        from breaches b join tickets t on t.id = b.ticket_id
        where ${inRange('b.breached_at')} ${filters('breach')}`,
    // CSAT surveys are 'survey' facts; CES and NPS ones (issue 16) are facts of their own kind.
    sql`select ${dim('survey', 's.offered_at')}, case s.kind when 'csat' then 'survey' else s.kind end, null, null, s.score::float8, s.responded_at is not null and s.score is not null, null, null
        from csat_surveys s join tickets t on t.id = s.ticket_id
        where ${inRange('s.offered_at')} ${filters('survey')}`,
    sql`select ${dim('ticket', 'm.due_at')}, 'commitment', null, null, null, null,
          case when m.state in ('kept', 'broken') then m.state when m.due_at < ${q.now.toISOString()}::timestamptz then 'overdue' else 'open' end, null
        from commitments m join tickets t on t.id = m.ticket_id
        where ${inRange('m.due_at')} ${filters('ticket')}`,
    // Issue 16: handle time and redress of tickets solved in range; phone queue calls by the instant they were offered.
    sql`select ${dim('ticket', 't.solved_at')}, 'handle', (t.handling_sec + t.after_work_sec)::float8, t.after_work_sec::float8, t.handling_sec::float8, null, null, null
        from tickets t where ${inRange('t.solved_at')} and t.handling_sec + t.after_work_sec > 0 ${filters('ticket')}`,
    sql`select ${dim('ticket', 't.solved_at')}, 'redress', null, null, t.redress_amount::float8, null, t.redress_currency, null
        from tickets t where ${inRange('t.solved_at')} and t.redress_kind is not null ${filters('ticket')}`,
    sql`select ${dim('queue', 'q.offered_at')}, 'queue', q.wait_sec::float8, null, null, q.outcome = 'answered',
          case when q.outcome = 'answered' and q.wait_sec <= (${thresholds}::jsonb ->> q.channel)::float8 then 'within'
               when q.outcome = 'abandoned' and q.wait_sec <= (${shortAbandon}::jsonb ->> q.channel)::float8 then 'short' end, null
        from phone_queue_calls q join tickets t on t.id = q.ticket_id
        where ${inRange('q.offered_at')} ${filters('queue')}`,
  ];
  let buckets = sql``;
  if (isTime(groupBy)) {
    // Local bucket starts in tz; each bucket's backlog is taken at its end (the last one ends at `to`).
    const unit = sql.raw(`'${groupBy}'`);
    const step = sql.raw(`interval '${TIME_UNITS[groupBy]}'`);
    buckets = sql`buckets as (
        select b as s, least((b + ${step}) at time zone ${tz}, ${to}) as e
        from generate_series(date_trunc(${unit}, ${from} at time zone ${tz}), ${to} at time zone ${tz}, ${step}) b
        where b < ${to} at time zone ${tz}
      ),`;
    // Backlog at each bucket's end without joining every bucket to every ticket (30 buckets x
    // 1M tickets): open at `from`, plus tickets created, minus tickets done (solved or closed,
    // whichever came first), summed bucket by bucket. A ticket is done no earlier than created.
    const doneAt = 'least(t.solved_at, t.closed_at)';
    buckets = sql`${buckets}
      moves (s, d) as (
        select ${dim('ticket', 't.created_at')}, 1 from tickets t where ${inRange('t.created_at')} ${filters('ticket')}
        union all
        select ${dim('ticket', doneAt)}, -1 from tickets t
         where ((t.solved_at >= ${from} and t.solved_at < ${to}) or (t.closed_at >= ${from} and t.closed_at < ${to}))
           and ${inRange(doneAt)} ${filters('ticket')}
      ),
      open_at_from as (
        select count(*) as n from tickets t where ${notDoneAt(from)} ${filters('ticket')}
      ),
      backlog (s, n, last) as (
        select to_char(bk.s, 'YYYY-MM-DD'), (select n from open_at_from) + sum(coalesce(m.d, 0)) over (order by bk.s), bk.e = ${to}
          from buckets bk left join (select s, sum(d) as d from moves group by s) m on m.s = to_char(bk.s, 'YYYY-MM-DD')
      ),`;
    branches.push(
      sql`select to_char(bk.s, 'YYYY-MM-DD'), 'bucket', null, null, null, null, null, null from buckets bk`,
      sql`select s, 'backlog', null, null, n::float8, last, null, null from backlog`,
    );
  } else {
    branches.push(sql`select ${dim('ticket', 't.created_at')}, 'backlog', null, null, 1, true, null, null
        from tickets t where ${notDoneAt(to)} ${filters('ticket')}`);
  }

  const dist = (kind: string, column: 'cal' | 'biz', name: string) =>
    sql.raw(`count(${column}) filter (where kind = '${kind}') as ${name}_n,
      percentile_cont(0.5) within group (order by ${column}) filter (where kind = '${kind}') as ${name}_median,
      percentile_cont(0.9) within group (order by ${column}) filter (where kind = '${kind}') as ${name}_p90,
      avg(${column}) filter (where kind = '${kind}') as ${name}_avg`);
  const slaCounts = sql.raw(
    METRIC_COLUMNS.map(
      (m) => `count(*) filter (where kind = 'clock' and s1 = '${m.metric}' and s2 = 'met') as ${m.met},
        count(*) filter (where kind = 'clock' and s1 = '${m.metric}' and s2 = 'breached') as ${m.breached}`,
    ).join(',\n'),
  );
  const ratio = (num: string, den: string) => sql.raw(`${num}::float8 / nullif(${den}, 0)`);
  const slaRatios = sql.raw(METRIC_COLUMNS.map((m) => `${m.met}::float8 / nullif(${m.met} + ${m.breached}, 0) as sla_${m.metric}_compliance`).join(',\n'));

  const grouping = groupBy === null ? sql`grouping sets (())` : sql`grouping sets ((grp), ())`;
  const isTotal = groupBy === null ? sql`true` : sql`grouping(grp) = 1`;
  const key = groupBy === null ? sql`null::text` : sql`grp`;

  const statement = sql`
    with ${buckets}
    facts (grp, kind, cal, biz, num, flag, s1, s2) as (
      ${sql.join(branches, sql`\nunion all\n`)}
    ),
    agg as (
      select ${isTotal} as is_total, ${key} as key,
        count(*) filter (where kind = 'created') as created_count,
        count(*) filter (where kind = 'solved') as solved_count,
        -- A backlog fact carries its count: one per open ticket, or one per time bucket.
        coalesce(sum(num) filter (where kind = 'backlog'), 0) as backlog_all,
        coalesce(sum(num) filter (where kind = 'backlog' and flag), 0) as backlog_final,
        ${dist('first_response', 'cal', 'frt_cal')},
        ${dist('first_response', 'biz', 'frt_biz')},
        ${dist('solved', 'cal', 'res_cal')},
        ${dist('solved', 'biz', 'res_biz')},
        ${slaCounts},
        count(*) filter (where kind = 'breach') as breaches,
        count(*) filter (where kind = 'solved' and s1 = 'yes') as fcr_yes,
        count(*) filter (where kind = 'solved' and s1 = 'no') as fcr_no,
        avg(num) filter (where kind = 'survey' and flag) as csat_average,
        count(*) filter (where kind = 'survey') as csat_offered,
        count(*) filter (where kind = 'survey' and flag) as csat_responded,
        count(*) filter (where kind = 'solved' and flag) as reopened,
        avg(num) filter (where kind = 'solved') as handoffs_per_ticket,
        count(*) filter (where kind = 'commitment' and s1 = 'kept') as commitments_kept,
        count(*) filter (where kind = 'commitment' and s1 = 'broken') as commitments_broken,
        count(*) filter (where kind = 'commitment' and s1 = 'overdue') as commitments_overdue,
        ${dist('handle', 'cal', 'ht')},
        avg(num) filter (where kind = 'handle') as ht_handling_avg,
        avg(biz) filter (where kind = 'handle') as ht_after_work_avg,
        count(*) filter (where kind = 'first_response' and flag) as frt_within,
        count(*) filter (where kind = 'first_response' and flag is not null) as frt_judged,
        count(*) filter (where kind = 'queue') as q_offered,
        count(*) filter (where kind = 'queue' and flag) as q_answered,
        count(*) filter (where kind = 'queue' and s1 = 'within') as q_within,
        count(*) filter (where kind = 'queue' and not flag) as q_abandoned,
        count(*) filter (where kind = 'queue' and s1 = 'short') as q_short,
        coalesce(sum(cal) filter (where kind = 'queue' and flag), 0) as q_wait_sum,
        count(*) filter (where kind = 'ces') as ces_offered,
        count(*) filter (where kind = 'ces' and flag) as ces_responded,
        coalesce(sum(num) filter (where kind = 'ces' and flag), 0) as ces_sum,
        count(*) filter (where kind = 'nps') as nps_offered,
        count(*) filter (where kind = 'nps' and flag) as nps_responded,
        count(*) filter (where kind = 'nps' and flag and num >= 9) as nps_promoters,
        count(*) filter (where kind = 'nps' and flag and num >= 7 and num < 9) as nps_passives,
        count(*) filter (where kind = 'nps' and flag and num < 7) as nps_detractors,
        count(*) filter (where kind = 'redress') as redress_count,
        array_agg(s1) filter (where kind = 'redress') as redress_currencies,
        array_agg(num) filter (where kind = 'redress') as redress_amounts
      from facts
      group by ${grouping}
    )
    select agg.*, ${labelOf(groupBy)} as label,
      -- The total of a time grouping is the backlog at \`to\`, not the sum over buckets.
      case when is_total then backlog_final else backlog_all end as backlog_at_end,
      ${slaRatios},
      ${ratio('fcr_yes', 'fcr_yes + fcr_no')} as fcr_rate,
      ${ratio('csat_responded', 'csat_offered')} as csat_response_rate,
      ${ratio('reopened', 'solved_count')} as reopen_rate,
      ${ratio('commitments_kept', 'commitments_kept + commitments_broken + commitments_overdue')} as commitments_kept_rate
    from agg
    order by is_total, key nulls last`;

  let result;
  try {
    result = await db.execute(statement);
  } catch (error) {
    // 22023: a zone name Postgres' tzdata does not know (the route validates against ICU first).
    if ((error as { code?: string }).code === '22023' || (error as { cause?: { code?: string } }).cause?.code === '22023') throw new UnknownTimeZoneError(q.tz);
    throw error;
  }
  const rows = (result.rows as Record<string, unknown>[]).map(toRow);
  const total = rows.find((r) => r.isTotal)!;
  return { rows: rows.filter((r) => !r.isTotal).map(stripTotal), total: stripTotal(total) };
}

export class UnknownTimeZoneError extends Error {
  constructor(readonly zone: string) {
    super(`unknown time zone ${zone}`);
  }
}

function labelOf(groupBy: GroupBy | null): SQL {
  switch (groupBy) {
    case null:
      return sql`'Total'`;
    case 'team':
      return sql`case when is_total then 'Total' when key is null then '(no team)' else coalesce((select name from teams where id = key::uuid), key) end`;
    case 'agent':
      return sql`case when is_total then 'Total' when key is null then '(unassigned)' else coalesce((select name from agents where id = key::uuid), key) end`;
    case 'language':
      return sql`case when is_total then 'Total' else coalesce(key, '(unknown)') end`;
    case 'reason':
      return sql`case when is_total then 'Total' when key is null then '(no reason)' else coalesce((select code || ' ' || name from reasons where id = key::uuid), key) end`;
    case 'rootCause':
      return sql`case when is_total then 'Total' when key is null then '(no root cause)' else coalesce((select code || ' ' || name from root_causes where id = key::uuid), key) end`;
    case 'week':
      return sql`case when is_total then 'Total' else to_char(key::date, 'IYYY-"W"IW') end`;
    default:
      return sql`case when is_total then 'Total' else key end`;
  }
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const int = (v: unknown): number => Number(v ?? 0);
const distribution = (r: Record<string, unknown>, name: string): Distribution => ({
  count: int(r[`${name}_n`]),
  median: num(r[`${name}_median`]),
  p90: num(r[`${name}_p90`]),
  avg: num(r[`${name}_avg`]),
});

function toRow(r: Record<string, unknown>): KpiRow & { isTotal: boolean } {
  return {
    isTotal: r.is_total === true,
    group: { key: (r.key as string | null) ?? null, label: String(r.label) },
    createdCount: int(r.created_count),
    solvedCount: int(r.solved_count),
    backlogAtEnd: int(r.backlog_at_end),
    firstResponse: { calendar: distribution(r, 'frt_cal'), business: distribution(r, 'frt_biz') },
    resolution: { calendar: distribution(r, 'res_cal'), business: distribution(r, 'res_biz') },
    sla: Object.fromEntries(
      METRIC_COLUMNS.map((m) => [m.metric, { met: int(r[m.met]), breached: int(r[m.breached]), compliance: num(r[`sla_${m.metric}_compliance`]) }]),
    ) as Record<SlaMetric, SlaFigure>,
    breaches: int(r.breaches),
    fcr: { yes: int(r.fcr_yes), no: int(r.fcr_no), rate: num(r.fcr_rate) },
    csat: { average: num(r.csat_average), offered: int(r.csat_offered), responded: int(r.csat_responded), responseRate: num(r.csat_response_rate) },
    reopenRate: num(r.reopen_rate),
    handoffsPerTicket: num(r.handoffs_per_ticket),
    commitments: { kept: int(r.commitments_kept), broken: int(r.commitments_broken), overdue: int(r.commitments_overdue), keptRate: num(r.commitments_kept_rate) },
    ...contactFigures({
      handle: { ...distribution(r, 'ht'), handlingAvg: num(r.ht_handling_avg), afterWorkAvg: num(r.ht_after_work_avg) },
      digital: { within: int(r.frt_within), total: int(r.frt_judged) },
      queue: { offered: int(r.q_offered), answered: int(r.q_answered), answeredWithin: int(r.q_within), abandoned: int(r.q_abandoned), shortAbandoned: int(r.q_short), answeredWaitSum: Number(r.q_wait_sum ?? 0) },
      ces: { offered: int(r.ces_offered), responded: int(r.ces_responded), sum: Number(r.ces_sum ?? 0) },
      nps: { offered: int(r.nps_offered), responded: int(r.nps_responded), promoters: int(r.nps_promoters), passives: int(r.nps_passives), detractors: int(r.nps_detractors) },
      redress: redressSums(int(r.redress_count), (r.redress_currencies as string[] | null) ?? [], (r.redress_amounts as number[] | null) ?? []),
    }),
  };
}

/** The issue-16 figures of a row from their counts: shared by the exact statement and the rollups. */
export function contactFigures(c: {
  handle: HandleTimeFigure;
  digital: { within: number; total: number };
  queue: QueueCounts;
  ces: { offered: number; responded: number; sum: number };
  nps: { offered: number; responded: number; promoters: number; passives: number; detractors: number };
  redress: KpiFigures['redress'];
}): Pick<KpiFigures, 'handleTime' | 'serviceLevel' | 'averageSpeedOfAnswer' | 'abandonmentRate' | 'phoneQueue' | 'ces' | 'nps' | 'redress' | 'occupancy'> {
  const queue = queueFigures(c.queue);
  const { answeredWaitSum: _sum, ...phoneQueue } = c.queue;
  return {
    handleTime: c.handle,
    serviceLevel: combinedServiceLevel(c.queue, c.digital),
    averageSpeedOfAnswer: queue.averageSpeedOfAnswerSec,
    abandonmentRate: queue.abandonmentRate,
    phoneQueue,
    ces: { average: c.ces.responded === 0 ? null : c.ces.sum / c.ces.responded, offered: c.ces.offered, responded: c.ces.responded, responseRate: c.ces.offered === 0 ? null : c.ces.responded / c.ces.offered },
    nps: { score: npsScore(c.nps), ...c.nps },
    redress: c.redress,
    occupancy: null,
  };
}

/** Redress summed per currency, in currency order. */
export function redressSums(count: number, currencies: readonly string[], amounts: readonly number[]): KpiFigures['redress'] {
  const sums = new Map<string, number>();
  currencies.forEach((currency, i) => sums.set(currency, (sums.get(currency) ?? 0) + Number(amounts[i] ?? 0)));
  return { count, sums: [...sums].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([currency, amount]) => ({ currency, amount: Math.round(amount * 10_000) / 10_000 })) };
}

function stripTotal(row: KpiRow & { isTotal: boolean }): KpiRow {
  const { isTotal: _isTotal, ...rest } = row;
  return rest;
}

// ---- flattening, for CSV ------------------------------------------------------------------------

/** One row as flat columns ("firstResponse.calendar.median"), in a fixed order; a list (redress per currency) is one text cell. */
export function flattenRow(row: KpiRow): Record<string, CsvCell> {
  const out: Record<string, CsvCell> = {};
  const walk = (value: unknown, path: string) => {
    if (Array.isArray(value)) {
      out[path] = value.map((v: { currency?: string; amount?: number }) => `${v.currency} ${v.amount}`).join('; ');
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
    } else {
      out[path] = value as CsvCell;
    }
  };
  walk(row, '');
  return out;
}

/** The report as CSV (csv.ts: BOM, CRLF, formula injection neutralised): one line per row, the column names flattened. */
export function toCsv(rows: KpiRow[]): string {
  const flat = rows.map(flattenRow);
  return toReportCsv(Object.keys(flattenRow(emptyRow())), flat);
}

function emptyRow(): KpiRow {
  const d: Distribution = { count: 0, median: null, p90: null, avg: null };
  return {
    group: { key: null, label: '' },
    createdCount: 0,
    solvedCount: 0,
    backlogAtEnd: 0,
    firstResponse: { calendar: d, business: d },
    resolution: { calendar: d, business: d },
    sla: Object.fromEntries(SLA_METRICS.map((m) => [m, { met: 0, breached: 0, compliance: null }])) as Record<SlaMetric, SlaFigure>,
    breaches: 0,
    fcr: { yes: 0, no: 0, rate: null },
    csat: { average: null, offered: 0, responded: 0, responseRate: null },
    reopenRate: null,
    handoffsPerTicket: null,
    commitments: { kept: 0, broken: 0, overdue: 0, keptRate: null },
    ...contactFigures({
      handle: { ...d, handlingAvg: null, afterWorkAvg: null },
      digital: { within: 0, total: 0 },
      queue: emptyQueueCounts(),
      ces: { offered: 0, responded: 0, sum: 0 },
      nps: { offered: 0, responded: 0, promoters: 0, passives: 0, detractors: 0 },
      redress: { count: 0, sums: [] },
    }),
  };
}
