/**
 * Issue 16's facts over a seeded month, set-based and reproducible (no random(): the ticket's
 * number picks), for the KPI benchmark's month and `npm run seed:demo`, so every new figure
 * shows something:
 *   - a reason tree (5 × 3) and 6 root causes; every solved ticket classified, a tenth with an
 *     outcome and a redress (EUR or ILS);
 *   - handle time: one handling interval per solved assigned ticket (2-30 min, ending 5 minutes
 *     before the solve), and after-work for half of them; the ticket's handle time as the work
 *     module keeps it;
 *   - one phone queue call per phone ticket (85% answered after 0-59 s, abandoned otherwise);
 *   - CES surveys on a tenth of the solved tickets, NPS on another tenth (two thirds answered);
 *   - every agent online 08:00-16:00 UTC each day of the month, away 12:00-12:30.
 * The triggers mark the hours these change; the caller refreshes the rollups once afterwards.
 *
 * Every statement is one INSERT ... SELECT or UPDATE over the tickets table (h = number % 1000
 * picks), and the ticket itself is written once: its reason, root cause, outcome, redress and
 * handle time in one UPDATE (the handle time from the same formula as its work intervals, not
 * aggregated back from them). The tickets table carries twenty-odd indexes, a GIN search index
 * and a generated tsvector: at 1,000,000 tickets each UPDATE of every solved ticket rewrites
 * ~850,000 rows and all their index entries, so the bench (bench/lib/month.ts) runs
 * classifyTickets() inside seedTickets() before its secondary indexes are rebuilt, and
 * seedContactFacts(..., { classified: true }) afterwards.
 *
 * Rows go in in time order, as a live system writes them (work when it is reported, calls when
 * offered): a range read then touches a range of pages. In ticket order, the last day's ~28,000
 * work intervals at 1,000,000 tickets lay on ~12,000 heap pages, and reading them for the KPI
 * report's live edges took 184-320 ms instead of ~18.
 */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<{ rowCount: number | null }>;
}

/** A stable 0..999 per ticket of alias `t`: every fact below picks by it. */
const H = '(t.number % 1000)::int';

/**
 * The reason tree (5 × 3), the 6 root causes, and one UPDATE of every solved ticket: reason,
 * root cause, outcome and redress (a tenth), and handle time (solved and assigned tickets: the
 * handling and after-work intervals seedContactFacts writes, summed).
 */
export async function classifyTickets(pool: Queryable): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const run = async (name: string, text: string) => {
    counts[name] = (await pool.query(text)).rowCount ?? 0;
  };
  await run(
    'reasons',
    `with parents as (
       insert into reasons (code, name) select 'R' || p, 'Reason ' || p from generate_series(1, 5) p returning id, code
     )
     insert into reasons (code, name, parent_id) select parents.code || '.' || c, 'Sub-reason ' || c, parents.id from parents, generate_series(1, 3) c`,
  );
  await run('rootCauses', `insert into root_causes (code, name) select 'C' || c, 'Root cause ' || c from generate_series(1, 6) c`);
  // Handling runs from solve - (7 + h % 29) min to solve - 5 min: (2 + h % 29) min; after-work
  // (even h) from solve - 5 min for 60 + h % 240 s. A hash join on two small tables, no self-join.
  await run(
    'classified',
    `with leaves as (select id, (row_number() over (order by code) - 1)::int as k from reasons where parent_id is not null),
          causes as (select id, (row_number() over (order by code) - 1)::int as k from root_causes)
     update tickets t set reason_id = l.id, root_cause_id = c.id,
            outcome = case when ${H} < 100 then (array['upheld', 'partially_upheld', 'rejected', 'withdrawn'])[1 + ${H} % 4] end,
            redress_kind = case when ${H} < 100 then (array['refund', 'credit', 'replacement', 'goodwill'])[1 + ${H} % 4] end,
            redress_amount = case when ${H} < 100 then 5 + ${H} end,
            redress_currency = case when ${H} < 100 then (case when ${H} % 2 = 0 then 'EUR' else 'ILS' end) end,
            handling_sec = case when t.assignee_id is not null then (2 + ${H} % 29) * 60 else t.handling_sec end,
            after_work_sec = case when t.assignee_id is not null then (case when ${H} % 2 = 0 then 60 + ${H} % 240 else 0 end) else t.after_work_sec end
       from leaves l, causes c
      where t.solved_at is not null and l.k = ${H} % 15 and c.k = ${H} % 6`,
  );
  return counts;
}

export async function seedContactFacts(
  pool: Queryable,
  range: { from: Date; to: Date },
  options: { classified?: boolean } = {},
): Promise<{ seconds: number; counts: Record<string, number> }> {
  const started = performance.now();
  const counts: Record<string, number> = options.classified ? {} : await classifyTickets(pool);
  const run = async (name: string, text: string, values: unknown[] = []) => {
    const result = await pool.query(text, values);
    counts[name] = result.rowCount ?? 0;
  };
  await run(
    'workIntervals',
    `insert into work_intervals (ticket_id, agent_id, kind, source, started_at, ended_at, reported_ended_at)
     select t.id, t.assignee_id, w.kind, 'api', w.s, w.e, w.e
       from tickets t,
       lateral (values ('handling', t.solved_at - make_interval(mins => 5 + 2 + ${H} % 29), t.solved_at - interval '5 minutes'),
                       ('after_work', t.solved_at - interval '5 minutes', t.solved_at - interval '5 minutes' + make_interval(secs => 60 + ${H} % 240))) w(kind, s, e)
      where t.solved_at is not null and t.assignee_id is not null and (w.kind = 'handling' or ${H} % 2 = 0)
      order by w.s`,
  );
  await run(
    'queueCalls',
    `insert into phone_queue_calls (ticket_id, call_id, channel, outcome, wait_sec, offered_at)
     select t.id, 'seed:' || t.id, 'phone', case when ${H} % 100 < 85 then 'answered' else 'abandoned' end, ${H} % 60, t.created_at
       from tickets t where t.channel = 'phone' order by t.created_at`,
  );
  await run(
    'cesNpsSurveys',
    `insert into csat_surveys (ticket_id, token_hash, agent_id, team_id, channel, language, kind, offered_at, expires_at, responded_at, score)
     select id, 'seed-' || kind || '-' || id, assignee_id, team_id, channel, language, kind, solved_at, solved_at + interval '14 days',
            case when h % 3 < 2 then solved_at + interval '1 hour' end,
            case when h % 3 < 2 then (case kind when 'ces' then 1 + h % 7 else h % 11 end) end
       from (select t.*, (t.number % 1000)::int as h, case when t.number % 10 = 0 then 'ces' else 'nps' end as kind
               from tickets t where t.solved_at is not null and t.number % 10 in (0, 1)) s
      order by solved_at`,
  );
  await run(
    'presence',
    `insert into agent_presence_events (agent_id, status, reason, at)
     select a.id, p.status, 'shift', d + p.at
       from agents a, generate_series(date_trunc('day', $1::timestamptz, 'UTC'), $2::timestamptz, interval '1 day') d,
       (values ('online', interval '8 hours'), ('away', interval '12 hours'), ('online', interval '12 hours 30 minutes'), ('offline', interval '16 hours')) p(status, at)
      where d + p.at < $2::timestamptz
      order by d + p.at`,
    [range.from, range.to],
  );
  // Classified here: the tickets' statistics changed too (the bench's seeding analyzes them itself).
  await pool.query(`analyze ${options.classified ? '' : 'tickets, '}work_intervals, phone_queue_calls, csat_surveys, agent_presence_events`);
  return { seconds: (performance.now() - started) / 1000, counts };
}
