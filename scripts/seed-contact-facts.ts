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
 */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<{ rowCount: number | null }>;
}

export async function seedContactFacts(pool: Queryable, range: { from: Date; to: Date }): Promise<{ seconds: number; counts: Record<string, number> }> {
  const started = performance.now();
  const counts: Record<string, number> = {};
  const run = async (name: string, text: string, values: unknown[] = []) => {
    const result = await pool.query(text, values);
    counts[name] = result.rowCount ?? 0;
  };
  await run(
    'reasons',
    `with parents as (
       insert into reasons (code, name) select 'R' || p, 'Reason ' || p from generate_series(1, 5) p returning id, code
     )
     insert into reasons (code, name, parent_id) select parents.code || '.' || c, 'Sub-reason ' || c, parents.id from parents, generate_series(1, 3) c`,
  );
  await run('rootCauses', `insert into root_causes (code, name) select 'C' || c, 'Root cause ' || c from generate_series(1, 6) c`);
  // h: a stable 0..999 per ticket.
  await run(
    'classified',
    `with leaves as (select id, row_number() over (order by code) - 1 as k from reasons where parent_id is not null),
          causes as (select id, row_number() over (order by code) - 1 as k from root_causes),
          t as (select id, (number % 1000)::int as h from tickets where solved_at is not null)
     update tickets set reason_id = (select id from leaves where k = t.h % 15), root_cause_id = (select id from causes where k = t.h % 6),
            outcome = case when t.h < 100 then (array['upheld', 'partially_upheld', 'rejected', 'withdrawn'])[1 + t.h % 4] end,
            redress_kind = case when t.h < 100 then (array['refund', 'credit', 'replacement', 'goodwill'])[1 + t.h % 4] end,
            redress_amount = case when t.h < 100 then 5 + t.h end,
            redress_currency = case when t.h < 100 then (case when t.h % 2 = 0 then 'EUR' else 'ILS' end) end
       from t where tickets.id = t.id`,
  );
  await run(
    'workIntervals',
    `insert into work_intervals (ticket_id, agent_id, kind, source, started_at, ended_at, reported_ended_at)
     select id, assignee_id, w.kind, 'api', w.s, w.e, w.e
       from (select id, assignee_id, solved_at, (number % 1000)::int as h from tickets where solved_at is not null and assignee_id is not null) t,
       lateral (values ('handling', t.solved_at - make_interval(mins => 5 + 2 + t.h % 29), t.solved_at - interval '5 minutes'),
                       ('after_work', t.solved_at - interval '5 minutes', t.solved_at - interval '5 minutes' + make_interval(secs => 60 + t.h % 240))) w(kind, s, e)
      where w.kind = 'handling' or t.h % 2 = 0`,
  );
  await run(
    'handleTimes',
    `update tickets t set handling_sec = w.handling, after_work_sec = w.after_work
       from (select ticket_id, sum(extract(epoch from ended_at - started_at)) filter (where kind = 'handling') as handling,
                    coalesce(sum(extract(epoch from ended_at - started_at)) filter (where kind = 'after_work'), 0) as after_work
               from work_intervals group by ticket_id) w
      where w.ticket_id = t.id`,
  );
  await run(
    'queueCalls',
    `insert into phone_queue_calls (ticket_id, call_id, channel, outcome, wait_sec, offered_at)
     select id, 'seed:' || id, 'phone', case when h % 100 < 85 then 'answered' else 'abandoned' end, h % 60, created_at
       from (select id, created_at, (number % 1000)::int as h from tickets where channel = 'phone') t`,
  );
  await run(
    'cesNpsSurveys',
    `insert into csat_surveys (ticket_id, token_hash, agent_id, team_id, channel, language, kind, offered_at, expires_at, responded_at, score)
     select id, 'seed-' || kind || '-' || id, assignee_id, team_id, channel, language, kind, solved_at, solved_at + interval '14 days',
            case when h % 3 < 2 then solved_at + interval '1 hour' end,
            case when h % 3 < 2 then (case kind when 'ces' then 1 + h % 7 else h % 11 end) end
       from (select t.*, (t.number % 1000)::int as h, case when t.number % 10 = 0 then 'ces' else 'nps' end as kind
               from tickets t where t.solved_at is not null and t.number % 10 in (0, 1)) s`,
  );
  await run(
    'presence',
    `insert into agent_presence_events (agent_id, status, reason, at)
     select a.id, p.status, 'shift', d + p.at
       from agents a, generate_series(date_trunc('day', $1::timestamptz, 'UTC'), $2::timestamptz, interval '1 day') d,
       (values ('online', interval '8 hours'), ('away', interval '12 hours'), ('online', interval '12 hours 30 minutes'), ('offline', interval '16 hours')) p(status, at)
      where d + p.at < $2::timestamptz`,
    [range.from, range.to],
  );
  await pool.query('analyze tickets, work_intervals, phone_queue_calls, csat_surveys, agent_presence_events');
  return { seconds: (performance.now() - started) / 1000, counts };
}
